//! Bounces next to their cause: a bounce refused for a blocklist listing points, in the domain's
//! detail, at the listing the blocklist round found for the sending IP (real rbldnsd, real daemon);
//! a bounce refused for other reasons points at nothing. The domain's page links the two.

use std::time::Duration;

use crate::alerts::{config, ip4set, write};
use crate::harness::daemon::Daemon;
use crate::harness::free_port;
use crate::harness::rbldnsd::Rbldnsd;

#[tokio::test]
async fn blocklist_bounces_point_at_the_listing_of_the_sending_ip() {
    let dir = tempfile::tempdir().unwrap();
    let dns_port = free_port();
    let _rbl = Rbldnsd::serve_on(
        dns_port,
        &[ip4set(dir.path(), "listed.txt", &["192.0.2.10"])],
        "ip.bl.test",
    )
    .await;
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken").unwrap();
    let (mut cfg, _) = config(dir.path(), dns_port, "");
    cfg.token_file = Some(token);
    let path = write(dir.path(), &cfg, "");
    let d = Daemon::start(&path, cfg.port, &[]);
    // Wait for the blocklist round to store the listing.
    d.wait_for(
        "/api/v1/domains/listed.test",
        Duration::from_secs(20),
        |r| r.body.contains("blocklist.listed"),
    );

    let events = br#"[
        {"type": "bounce", "recipient": "a@gmail.com", "sender_domain": "listed.test", "id": "b1",
         "status": "5.7.1", "diagnostic": "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using ip.bl.test"},
        {"type": "bounce", "recipient": "b@gmail.com", "sender_domain": "listed.test", "id": "b2",
         "reason": "blocked_blocklist"},
        {"type": "bounce", "recipient": "gone@gmail.com", "sender_domain": "listed.test", "id": "b3",
         "status": "5.1.1", "diagnostic": "550 5.1.1 The email account that you tried to reach does not exist."}
    ]"#;
    let auth = [
        ("Authorization", "Bearer t0ken"),
        ("Content-Type", "application/json"),
    ];
    let r = d.request("POST", "/api/v1/events", &auth, events);
    assert_eq!(r.status, 200, "{}", r.body);

    let detail = d.get("/api/v1/domains/listed.test").json();
    let bounces = &detail["bounces"];
    assert_eq!(bounces["window"], "24h", "{detail:#}");
    assert_eq!(bounces["bounces"], 3);
    let reasons = bounces["reasons"].as_array().unwrap();
    let names: Vec<(&str, u64)> = reasons
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap(),
                r["bounces"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("blocked_blocklist", 2), ("user_unknown", 1)]);
    let explained: Vec<(&str, &str, &str)> = reasons[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["target"].as_str().unwrap(),
                f["check"].as_str().unwrap(),
                f["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        explained,
        [("192.0.2.10", "blocklists", "blocklist.listed")],
        "only the listed IP explains it, not 192.0.2.11: {detail:#}"
    );
    assert_eq!(reasons[1]["findings"], serde_json::json!([]));

    // The domain page shows the same, the listing linked to the section of the IP's check.
    let page = d.get("/domains/listed.test").body;
    let table = page
        .split("<caption>Bounces by reason (24h)")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap_or_else(|| panic!("no bounces-by-reason table:\n{page}"));
    assert!(
        table.contains(r##"<a href="#check-192-0-2-10-blocklists">192.0.2.10 blocklists</a>"##),
        "{table}"
    );
    assert!(
        page.contains(r#"id="check-192-0-2-10-blocklists""#),
        "the link has a target: {page}"
    );
    assert!(
        table.contains("<code>user_unknown</code></th><td>1</td><td>–</td>"),
        "{table}"
    );
}
