//! The posture families on `/metrics` follow the published records and pass promtool.

use super::*;
use crate::harness::daemon::{Reply, promtool_check};

#[tokio::test]
async fn metrics_follow_the_published_records_and_pass_promtool() {
    let mut w = world().await;
    let d = w.daemon();
    wait_for_round(&d, SPF_BEFORE);
    let m = scrape_when(
        &d,
        r#"senderscope_check_status{check="ptr",domain="broken.daemon.test"}"#,
    );
    for line in [
        r#"senderscope_spf_dns_lookups{domain="watched.daemon.test"} 2"#,
        r#"senderscope_dkim_key_size{domain="watched.daemon.test",selector="s1"} 2048"#,
        r#"senderscope_dkim_key_size{domain="watched.daemon.test",selector="s2"} 1024"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="quarantine"} 1"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="reject"} 0"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="none"} 0"#,
        r#"senderscope_dmarc_policy{domain="broken.daemon.test",policy="none"} 1"#,
        r#"senderscope_check_status{check="spf",domain="watched.daemon.test"} 0"#,
        r#"senderscope_check_status{check="dkim",domain="watched.daemon.test"} 2"#,
        r#"senderscope_check_status{check="ptr",domain="watched.daemon.test"} 0"#,
        r#"senderscope_check_status{check="spf",domain="broken.daemon.test"} 3"#,
        r#"senderscope_check_status{check="ptr",domain="broken.daemon.test"} 3"#,
        r#"senderscope_check_status{check="bulk_sender",domain="broken.daemon.test"} 3"#,
        r#"senderscope_findings{check="dkim",domain="watched.daemon.test",severity="warning"} 1"#,
        r#"senderscope_findings{check="dkim",domain="broken.daemon.test",severity="critical"} 2"#,
        r#"senderscope_findings{check="ptr",domain="broken.daemon.test",severity="critical"} 1"#,
    ] {
        assert!(has_line(&m, line), "{line} missing:\n{}", grep(&m));
    }
    // No SPF record at broken.daemon.test: no lookup count, and no key sizes for its missing keys.
    assert!(
        !m.body
            .contains(r#"senderscope_spf_dns_lookups{domain="broken.daemon.test"}"#)
    );
    assert!(
        !m.body
            .contains(r#"senderscope_dkim_key_size{domain="broken.daemon.test""#)
    );
    assert_last_check_is_recent(&m, WATCHED);
    promtool_check(&m.body);

    w.change_zone().await;
    let m = scrape_when(
        &d,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="reject"} 1"#,
    );
    for line in [
        r#"senderscope_spf_dns_lookups{domain="watched.daemon.test"} 3"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="quarantine"} 0"#,
        r#"senderscope_dkim_key_size{domain="watched.daemon.test",selector="s1"} 2048"#,
        r#"senderscope_check_status{check="dkim",domain="watched.daemon.test"} 3"#,
        r#"senderscope_findings{check="spf",domain="watched.daemon.test",severity="info"} 1"#,
    ] {
        assert!(has_line(&m, line), "{line} missing:\n{}", grep(&m));
    }
    assert!(
        !m.body.contains(r#"selector="s2""#),
        "the removed key's series is gone:\n{}",
        grep(&m)
    );
    promtool_check(&m.body);
}

/// Scrape `/metrics` until it has `needle`.
fn scrape_when(d: &Daemon, needle: &str) -> Reply {
    d.wait_for("/metrics", ROUND, |r| r.body.contains(needle))
}

fn has_line(m: &Reply, line: &str) -> bool {
    m.body.lines().any(|l| l == line)
}

/// The posture families of a scrape, for failure messages.
fn grep(m: &Reply) -> String {
    m.body
        .lines()
        .filter(|l| {
            !l.starts_with('#')
                && [
                    "spf_dns_lookups",
                    "dkim_key_size",
                    "dmarc_policy",
                    "check_status",
                    "findings",
                ]
                .iter()
                .any(|f| l.starts_with(&format!("senderscope_{f}")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_last_check_is_recent(m: &Reply, domain: &str) {
    let prefix = format!(r#"senderscope_last_check_timestamp_seconds{{domain="{domain}"}} "#);
    let value: i64 = m
        .body
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}"))
        .parse()
        .unwrap();
    let now = senderscope::checks::unix_now();
    assert!(now - 60 <= value && value <= now, "{value} vs now {now}");
}
