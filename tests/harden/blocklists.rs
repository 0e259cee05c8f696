//! Unknown is not ok: a target no configured zone can check (here an IPv6 address with an IPv4-only
//! zone, against a real rbldnsd) is reported "not checked" with the reason. Domains without a domain
//! zone take the same path (`RoundReport`); the unit tests of `blocklists::monitor` cover them.

use crate::harness::rbldnsd::{Dataset, Rbldnsd};

use super::senderscope;

#[tokio::test]
async fn targets_no_zone_can_check_are_not_checked_rather_than_ok() {
    let data = tempfile::tempdir().unwrap();
    let ips = data.path().join("ips");
    std::fs::write(&ips, ":127.0.0.2:\n127.0.0.2\n").unwrap();
    let rbl = Rbldnsd::serve(&[Dataset::new("v4.bl.test", "ip4set", &ips)], "v4.bl.test").await;
    let ns = rbl.addr().to_string();
    let args = [
        "check",
        "example.test",
        "--ip",
        "192.0.2.10",
        "--ip",
        "2001:db8::25",
        "--nameserver",
        &ns,
        "--blocklist",
        "ipv4:v4.bl.test",
        "--format",
        "json",
    ];
    // rbldnsd is its own process: blocking this test's thread on the check is fine.
    let report = senderscope(&args).json();

    let ip = report["ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["ip"] == "2001:db8::25")
        .unwrap_or_else(|| panic!("no IPv6 address in {report}"));
    let not_checked = ip["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "blocklist.not_checked")
        .unwrap_or_else(|| panic!("no blocklist.not_checked for the IPv6 address: {ip}"));
    assert_eq!(not_checked["severity"], "unknown");
    assert_eq!(
        not_checked["message"],
        "2001:db8::25 was not checked against any blocklist: none of the configured zones (v4.bl.test) \
         lists IPv6 addresses. Add a zone that does (blocklists.enable or blocklists.extra), or know that \
         its blocklist state is unknown."
    );
    assert_ne!(ip["status"], "ok", "{ip}");

    // With IP zones only, the command line asked nothing about the domain.
    assert!(report["domains"][0].get("listings").is_none(), "{report}");
}
