//! What the status API shows for the domains and their IPs after a round.

use serde_json::Value;

use super::*;

#[tokio::test]
async fn the_api_shows_each_checks_record_findings_and_each_ips_ptr() {
    let w = world().await;
    let d = w.daemon();
    let detail = wait_for_round(&d, SPF_BEFORE);
    let broken = d.wait_for("/api/v1/domains/broken.daemon.test", ROUND, |r| {
        r.json()["checks"].as_array().is_some_and(|c| c.len() == 8)
    });
    let broken = broken.json();

    // The watched domain: only the 1024-bit s2 key is a warning; MTA-STS and BIMI are optional.
    assert_eq!(detail["status"], "warning", "{detail:#}");
    assert_eq!(detail["dkim_selectors"], serde_json::json!(["s1", "s2"]));
    let spf = check(&detail, "spf");
    assert_eq!(spf["status"], "ok");
    assert_eq!(spf["record"], SPF_BEFORE);
    assert!(codes(spf).is_empty(), "{spf:#}");
    assert_eq!(spf["facts"]["spf_dns_lookups"], 2);
    assert!(spf["checked_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(spf["duration_seconds"].as_f64().unwrap() >= 0.0);
    let dkim = check(&detail, "dkim");
    assert_eq!(dkim["status"], "warning");
    assert_eq!(codes(dkim), ["dkim.weak_key"]);
    let weak = &dkim["findings"][0];
    assert!(
        weak["message"].as_str().unwrap().contains("1024"),
        "{weak:#}"
    );
    assert!(!weak["detail"].is_null(), "findings carry their detail");
    let record = dkim["record"].as_str().unwrap();
    assert!(record.contains("s1: v=DKIM1; k=rsa; p=MIIBIjAN") && record.contains("s2: v=DKIM1"));
    let bits: Vec<i64> = dkim["facts"]["dkim_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["bits"].as_i64().unwrap())
        .collect();
    assert_eq!(bits, [2048, 1024]);
    let dmarc = check(&detail, "dmarc");
    assert_eq!(dmarc["record"], DMARC_BEFORE);
    assert_eq!(dmarc["facts"]["dmarc_policy"], "quarantine");
    assert_eq!(codes(check(&detail, "mta_sts")), ["mta_sts.missing"]);
    assert_eq!(codes(check(&detail, "bimi")), ["bimi.missing"]);
    assert_eq!(
        check(&detail, "mx")["record"],
        "10 mail.watched.daemon.test"
    );
    assert_eq!(check(&detail, "bulk_sender")["status"], "ok");
    // Worst first: the DKIM warning before the info and ok checks.
    assert_eq!(detail["checks"][0]["check"], "dkim");
    assert_eq!(
        detail["summary"], weak["message"],
        "the summary is the worst finding's message"
    );

    // Its IP: PTR and FCrDNS as served by the reverse zone.
    let ips = detail["ips"].as_array().unwrap();
    assert_eq!(ips.len(), 1);
    let ip = &ips[0];
    assert_eq!(ip["ip"], "192.0.2.10");
    assert_eq!(ip["status"], "ok");
    assert_eq!(ip["ptr"], "mail.hosts.ptr.test");
    assert_eq!(ip["fcrdns"], true);
    assert_eq!(ip["checks"][0]["check"], "ptr");
    assert_eq!(ip["checks"][0]["record"], "mail.hosts.ptr.test");
    assert_eq!(ip["summary"], "No problems found.");

    // The broken domain: no SPF, no keys, p=none.
    assert_eq!(broken["status"], "critical");
    assert_eq!(
        codes(check(&broken, "spf")),
        ["spf.missing", "spf.sending_ip_not_authorized"]
    );
    assert_eq!(
        codes(check(&broken, "dkim")),
        ["dkim.selector_missing", "dkim.selector_missing"]
    );
    assert!(codes(check(&broken, "dmarc")).contains(&"dmarc.policy_none"));
    assert!(
        codes(check(&broken, "bulk_sender")).contains(&"bulk_sender.requirements"),
        "{broken:#}"
    );
    let bip = &broken["ips"][0];
    assert_eq!(
        (&bip["ip"], &bip["status"], &bip["fcrdns"]),
        (&"192.0.2.11".into(), &"critical".into(), &false.into())
    );
    assert!(bip["ptr"].is_null());
    assert_eq!(codes(&bip["checks"][0]), ["ptr.missing"]);

    // /api/v1/status: worst first, each with a one-line summary of what is wrong.
    let status = d.get("/api/v1/status").json();
    assert_eq!(status["status"], "critical");
    let domains: Vec<(&str, &str)> = status["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["domain"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert_eq!(domains, [(BROKEN, "critical"), (WATCHED, "warning")]);
    let summary = status["domains"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("SPF") && !summary.contains('\n'),
        "{summary}"
    );
    assert_eq!(status["domains"][1]["summary"], weak["message"]);
    let ips: Vec<(&str, &str, &Value, &Value)> = status["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["ip"].as_str().unwrap(),
                i["status"].as_str().unwrap(),
                &i["ptr"],
                &i["fcrdns"],
            )
        })
        .collect();
    assert_eq!(
        ips,
        [
            ("192.0.2.11", "critical", &Value::Null, &false.into()),
            (
                "192.0.2.10",
                "ok",
                &"mail.hosts.ptr.test".into(),
                &true.into()
            ),
        ]
    );
    assert!(
        status["ips"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("192.0.2.11 has no reverse DNS"),
        "{:#}",
        status["ips"][0]
    );
    assert!(
        all_record_changes(&detail).is_empty(),
        "nothing changed yet"
    );
}
