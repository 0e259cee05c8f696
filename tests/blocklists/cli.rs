//! `senderscope check --blocklist` end to end: the real binary, posture zones on nsd
//! (tests/fixtures/zones/*.cli.test) and blocklist zones on rbldnsd, joined by a relay as a site's
//! own resolver would join them. Exit codes: listed → 2, policy listing → 1, refused or failed → 3,
//! never 0 unless every zone answered "not listed".

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::relay::Relay;
use crate::harness::cli::{Run, senderscope};
use crate::harness::nsd::Nsd;
use crate::harness::rbldnsd::{Dataset, Rbldnsd};

/// The sending IP of ok.cli.test, forward-confirmed (PTR mail.ok.cli.test).
const IP: &str = "203.0.113.225";

struct Servers {
    _nsd: Nsd,
    _rbl: Rbldnsd,
    relay: Relay,
    _data: tempfile::TempDir,
}

/// nsd with the posture zones; rbldnsd with:
/// - `clean.bl.test`: the test point only;
/// - `listed.bl.test`: IP listed with a reason;
/// - `refusing.bl.test`: IP answered 127.255.255.254 (generic semantics: refused);
/// - `dom.bl.test` (dnset): ok.cli.test listed;
/// - `zen.spamhaus.org`: IP on the PBL part (127.0.0.10), test point on SBL/XBL as the real one;
/// - `nowhere.bl.test` is not served: rbldnsd answers REFUSED (a failed lookup).
async fn servers() -> Servers {
    let mut zones = Nsd::fixtures(&["ok.cli.test", "225.113.0.203.in-addr.arpa"]);
    zones.push(Nsd::test_tld());
    let nsd = Nsd::serve(&zones).await;
    let data = tempfile::tempdir().unwrap();
    let file = |name: &str, text: String| -> PathBuf {
        let path = data.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let fixture = |name: &str| -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/rbldnsd")
            .join(name)
    };
    let datasets = [
        Dataset::new(
            "clean.bl.test",
            "ip4set",
            file("clean", ":127.0.0.2:\n127.0.0.2\n".into()),
        ),
        Dataset::new(
            "listed.bl.test",
            "ip4set",
            file(
                "listed",
                format!(":127.0.0.2:Spam source $ seen in traps\n127.0.0.2\n{IP}\n"),
            ),
        ),
        Dataset::new(
            "refusing.bl.test",
            "ip4set",
            file(
                "refusing",
                format!("127.0.0.2 :127.0.0.2:\n{IP} :127.255.255.254:Query refused\n"),
            ),
        ),
        Dataset::new(
            "dom.bl.test",
            "dnset",
            file(
                "dom",
                ":127.0.0.2:Domain $ is listed\ntest\nok.cli.test\n".into(),
            ),
        ),
        Dataset::new("zen.spamhaus.org", "ip4set", fixture("zen-sbl.txt")),
        Dataset::new("zen.spamhaus.org", "ip4set", fixture("zen-xbl.txt")),
        Dataset::new(
            "zen.spamhaus.org",
            "ip4set",
            file(
                "pbl",
                format!(":10:https://check.spamhaus.org/query/ip/$\n127.0.0.2\n{IP}\n"),
            ),
        ),
    ];
    let rbl = Rbldnsd::serve(&datasets, "clean.bl.test").await;
    let relay = Relay::start(&[
        ("test", nsd.addr()),
        ("in-addr.arpa", nsd.addr()),
        ("bl.test", rbl.addr()),
        ("zen.spamhaus.org", rbl.addr()),
    ])
    .await;
    Servers {
        _nsd: nsd,
        _rbl: rbl,
        relay,
        _data: data,
    }
}

/// `check ok.cli.test --ip IP --nameserver RELAY ARGS…` on a blocking thread, so the relay (on this
/// runtime) keeps answering.
async fn check(relay: SocketAddr, args: &[&str]) -> Run {
    let mut all: Vec<String> = ["check", "ok.cli.test", "--ip", IP, "--nameserver"]
        .map(String::from)
        .to_vec();
    all.push(relay.to_string());
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || senderscope(&all))
        .await
        .unwrap()
}

fn codes(findings: &Value) -> Vec<&str> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn exit_codes_follow_the_listing_state() {
    let s = servers().await;
    let relay = s.relay.addr();
    // The posture of ok.cli.test and its IP through the same relay, without blocklists.
    let baseline = check(relay, &["--format", "json"]).await;
    assert_eq!(
        baseline.code, 0,
        "ok.cli.test is clean:\n{}\n{}",
        baseline.stdout, baseline.stderr
    );
    assert!(
        baseline.json()["ips"][0].get("listings").is_none(),
        "no --blocklist, no listings"
    );
    assert!(baseline.json().get("blocklists").is_none());

    for (zone, expected, why) in [
        ("clean.bl.test", 0, "not listed"),
        ("listed.bl.test", 2, "listed"),
        ("zen.spamhaus.org", 1, "a policy listing (PBL)"),
        ("refusing.bl.test", 3, "refused"),
        ("nowhere.bl.test", 3, "lookup failed"),
    ] {
        let run = check(relay, &["--blocklist", zone]).await;
        assert_eq!(
            run.code, expected,
            "{zone}: {why}\n{}\n{}",
            run.stdout, run.stderr
        );
    }
    // The worst zone decides: a refusal does not hide a listing, a clean zone does not hide a failure.
    let run = check(
        relay,
        &[
            "--blocklist",
            "clean.bl.test",
            "--blocklist",
            "nowhere.bl.test",
        ],
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.stdout);
    let run = check(
        relay,
        &[
            "--blocklist",
            "refusing.bl.test",
            "--blocklist",
            "listed.bl.test",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stdout);
}

#[tokio::test]
async fn json_fills_ips_and_domains_listings() {
    let s = servers().await;
    let run = check(
        s.relay.addr(),
        &[
            "--format",
            "json",
            "--blocklist",
            "clean.bl.test",
            "--blocklist",
            "listed.bl.test",
            "--blocklist",
            "refusing.bl.test",
            "--blocklist",
            "nowhere.bl.test",
            "--blocklist",
            "domain:dom.bl.test",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "critical");
    let ip = &report["ips"][0];
    assert_eq!(ip["status"], "critical");
    let listings = &ip["listings"];
    assert_eq!(
        listings[0],
        json!({"zone": "clean.bl.test", "listed": false})
    );
    assert_eq!(listings[1]["zone"], "listed.bl.test");
    assert_eq!(listings[1]["listed"], true);
    assert_eq!(listings[1]["state"], "listed");
    assert_eq!(listings[1]["codes"], json!(["127.0.0.2"]));
    assert_eq!(
        listings[1]["reason"],
        format!("Spam source {IP} seen in traps")
    );
    assert_eq!(listings[2]["listed"], Value::Null, "refused is not clean");
    assert_eq!(listings[2]["state"], "refused");
    assert_eq!(listings[2]["codes"], json!(["127.255.255.254"]));
    assert_eq!(listings[3]["listed"], Value::Null, "failed is not clean");
    assert_eq!(listings[3]["state"], "lookup_failed");
    assert_eq!(
        listings.as_array().unwrap().len(),
        4,
        "domain lists are not asked for IPs"
    );
    assert_eq!(
        codes(&ip["findings"]),
        [
            "blocklist.listed",
            "blocklist.query_refused",
            "blocklist.lookup_failed"
        ]
    );
    let listed = &ip["findings"][0]["message"];
    assert_eq!(
        listed,
        &format!(
            "{IP} is listed on listed.bl.test (127.0.0.2), reason: Spam source {IP} seen in traps; \
             find and stop the cause before asking for removal."
        )
    );

    let domain = &report["domains"][0];
    assert_eq!(domain["status"], "critical");
    assert_eq!(domain["listings"].as_array().unwrap().len(), 1);
    assert_eq!(domain["listings"][0]["zone"], "dom.bl.test");
    assert_eq!(domain["listings"][0]["listed"], true);
    let check = domain["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "blocklists")
        .unwrap();
    assert_eq!(check["status"], "critical");
    assert_eq!(codes(&check["findings"]), ["blocklist.listed"]);

    let zones: Vec<(&str, bool)> = report["blocklists"]["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| (z["zone"].as_str().unwrap(), z["healthy"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        zones,
        [
            ("clean.bl.test", true),
            ("listed.bl.test", true),
            ("refusing.bl.test", true),
            ("nowhere.bl.test", false),
            ("dom.bl.test", true)
        ]
    );
    let zone_codes = codes(&report["blocklists"]["findings"]);
    assert!(
        zone_codes.contains(&"blocklist.lookup_failed"),
        "{zone_codes:?}"
    );
    assert!(
        zone_codes.contains(&"blocklist.query_refused"),
        "{zone_codes:?}"
    );
}

#[tokio::test]
async fn catalogue_zones_use_their_tables_and_text_shows_listings() {
    let s = servers().await;
    let run = check(
        s.relay.addr(),
        &[
            "--blocklist",
            "zen.spamhaus.org",
            "--blocklist",
            "listed.bl.test",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains(&format!(
            "CRITICAL  IP {IP}  PTR mail.ok.cli.test (forward-confirmed)"
        )),
        "{out}"
    );
    assert!(
        out.contains("  CRITICAL  blocklists   listed on zen.spamhaus.org, listed.bl.test"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "      warning  blocklist.listed: {IP} is listed on zen.spamhaus.org (PBL), reason: \
             https://check.spamhaus.org/query/ip/{IP}, delist at https://check.spamhaus.org/; a policy listing"
        )),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("CRITICAL: 1 domain, 1 IP, 2 blocklist zones"),
        "{out}"
    );

    // A kind prefix matching the catalogue's kind is accepted; the zone keeps its table.
    let run = check(
        s.relay.addr(),
        &["--blocklist", "ip:zen.spamhaus.org", "--format", "json"],
    )
    .await;
    let pbl = &run.json()["ips"][0]["listings"][0];
    assert!(
        pbl["meaning"]
            .as_str()
            .unwrap()
            .starts_with("PBL: end-user address range"),
        "{pbl}"
    );
    assert_eq!(pbl["policy"], true);
    assert_eq!(run.code, 1, "a policy listing is a warning");
}

#[tokio::test]
async fn defaults_expand_and_ip_lists_without_ips_are_left_out() {
    let s = servers().await;
    // No --ip: IP lists have nothing to check and say so; the domain lists of the defaults are asked
    // (the relay refuses them: not served here).
    let mut args: Vec<String> = ["check", "ok.cli.test", "--nameserver"]
        .map(String::from)
        .to_vec();
    args.push(s.relay.addr().to_string());
    args.extend(["--blocklist", "defaults", "--format", "json"].map(String::from));
    let run = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_senderscope"))
            .args(&args)
            .env_remove("SENDERSCOPE_SPAMHAUS_DQS_KEY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stderr
            .contains("zen.spamhaus.org lists IP addresses; give --ip with one to check it there"),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let zones: Vec<&str> = report["blocklists"]["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zone"].as_str().unwrap())
        .collect();
    assert_eq!(
        zones,
        ["dbl.spamhaus.org", "multi.surbl.org", "multi.uribl.com"]
    );
    let listings = report["domains"][0]["listings"].as_array().unwrap();
    assert!(
        listings.iter().all(|l| l["listed"].is_null()),
        "{listings:?}"
    );

    // A dead list is refused before anything is queried.
    let run = Command::new(env!("CARGO_BIN_EXE_senderscope"))
        .args(["check", "ok.cli.test", "--blocklist", "dnsbl.sorbs.net"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&run.stderr).contains("dead list"));
}
