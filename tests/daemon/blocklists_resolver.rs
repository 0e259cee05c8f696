//! The resolver and Spamhaus in the real daemon against a real rbldnsd: a public resolver
//! (127.255.255.254 on the test point) is found at start, logged and shown in /api/v1/status with the
//! fix; a Spamhaus DQS key is used for queries and never appears in labels, logs, responses or the
//! state database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::daemon::{Daemon, TestConfig};
use crate::harness::free_port;
use crate::harness::rbldnsd::{Dataset, Rbldnsd};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rbldnsd")
        .join(name)
}

#[tokio::test]
async fn public_resolver_is_found_at_start_with_the_fix() {
    let port = free_port();
    let _rbl = Rbldnsd::serve_on(
        port,
        &[
            Dataset::new("zen.spamhaus.org", "acl", fixture("zen-public.acl")),
            Dataset::new("zen.spamhaus.org", "ip4set", fixture("testpoints4.txt")),
        ],
        "zen.spamhaus.org",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestConfig::new(dir.path(), &["shop.test"]);
    cfg.dns_port = port;
    cfg.blocklists = "{defaults: false, enable: [zen.spamhaus.org]}".into();
    // Rounds (and posture checks) far away: what shows comes from the start-up probe.
    cfg.checks = "1h".into();
    cfg.blocklists_every = "1h".into();
    cfg.jitter = 0.5;
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);

    let status = d
        .wait_for("/api/v1/status", Duration::from_secs(15), |r| {
            r.json()["blocklists"]["status"] == "unknown"
        })
        .json();
    let check = &status["blocklists"]["checks"][0];
    assert_eq!(check["check"], "resolver", "{status}");
    let finding = &check["findings"][0];
    assert_eq!(finding["code"], "blocklist.public_resolver");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "Spamhaus refuses our resolver (dns.nameservers 127.0.0.1:{port}): zen.spamhaus.org \
             answered its test point 127.0.0.2 with 127.255.255.254"
        )),
        "{message}"
    );
    assert!(message.contains("own recursive resolver"), "{message}");
    assert!(message.contains("DQS key"), "{message}");
    let log = d.log();
    assert!(
        log.contains("Spamhaus refuses our resolver") && log.contains("WARN"),
        "{log}"
    );
}

#[tokio::test]
async fn dqs_key_is_used_but_never_shown() {
    let key = "s3cr3tdqskey";
    let dq = format!("{key}.zen.dq.spamhaus.net");
    let port = free_port();
    let _rbl = Rbldnsd::serve_on(
        port,
        &[
            Dataset::new(&dq, "ip4set", fixture("zen-sbl.txt")),
            Dataset::new(&dq, "ip4set", fixture("zen-xbl.txt")),
        ],
        &dq,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestConfig::new(dir.path(), &[]);
    cfg.domains = vec![(
        "shop.test".into(),
        vec!["192.0.2.21".into(), "192.0.2.99".into()],
    )];
    cfg.dns_port = port;
    // DBL through DQS is not served here: its lookups fail, and their errors must not show the key.
    cfg.blocklists = "{defaults: false, enable: [zen.spamhaus.org, dbl.spamhaus.org]}".into();
    cfg.blocklists_every = "1s".into();
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    // Debug logging too: whatever a library logs about queries must not carry the key either.
    let d = Daemon::start(
        &path,
        cfg.port,
        &[("SENDERSCOPE_SPAMHAUS_DQS_KEY", key), ("RUST_LOG", "debug")],
    );

    let listed = "senderscope_blocklist_listed{target=\"192.0.2.21\",zone=\"zen.spamhaus.org\"} 1";
    let metrics = d.wait_for("/metrics", Duration::from_secs(20), |r| {
        r.body.lines().any(|l| l == listed)
    });
    let status = d.wait_for("/api/v1/status", Duration::from_secs(20), |r| {
        r.body.contains("blocklist.lookup_failed")
            && r.body.contains("is listed on zen.spamhaus.org")
    });
    let domain = d.get("/api/v1/domains/shop.test");
    // The failed DBL lookup went through DQS, and its detail says so without the key.
    assert!(
        domain.body.contains("dbl.dq.spamhaus.net (DQS)"),
        "{}",
        domain.body
    );
    d.signal("TERM");
    let mut d = d;
    d.wait_exit(Duration::from_secs(10)).expect("stops");

    for (what, text) in [
        ("/metrics", metrics.body.as_str()),
        ("/api/v1/status", status.body.as_str()),
        ("/api/v1/domains/shop.test", domain.body.as_str()),
        ("the log", d.log().as_str()),
    ] {
        assert!(!text.contains(key), "the DQS key shows in {what}:\n{text}");
    }
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(cfg.state.parent().unwrap()).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(!stored.is_empty());
    assert!(
        !stored.windows(key.len()).any(|w| w == key.as_bytes()),
        "the DQS key is in the state database"
    );
}
