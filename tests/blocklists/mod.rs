//! Blocklist monitoring against a real rbldnsd on loopback serving the zones of
//! tests/fixtures/rbldnsd/ (see its README): every answer state, zone health, and the catalogue's
//! tables on real answers.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use senderscope::blocklists::{
    self, Failure, HealthState, Listing, Round, Target, Targets, Zone, generic_zone, run_round,
};
use senderscope::config::{BlocklistSettings, CodeRange, DomainName, ExtraZone, Secret, ZoneKind};
use senderscope::dns::Resolver;
use senderscope::findings::{FindingCode, Severity};

use crate::harness::rbldnsd::{Dataset, Rbldnsd};

mod cli;
pub(crate) mod relay;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rbldnsd")
        .join(name)
}

/// Every test zone, on one rbldnsd.
fn datasets() -> Vec<Dataset> {
    [
        ("ip4.bl.test", "ip4set", "ip4.txt"),
        ("ip4.bl.test", "ip4set", "ip4-second.txt"),
        ("ip6.bl.test", "ip6tset", "ip6.txt"),
        ("ip6.bl.test", "ip4set", "testpoints4.txt"),
        ("dom.bl.test", "dnset", "dom.txt"),
        ("notest.bl.test", "ip4set", "notest.txt"),
        ("wild.bl.test", "ip4set", "wild.txt"),
        ("silent.bl.test", "acl", "silent.acl"),
        ("silent.bl.test", "ip4set", "testpoints4.txt"),
        ("zen.spamhaus.org", "ip4set", "zen-sbl.txt"),
        ("zen.spamhaus.org", "ip4set", "zen-xbl.txt"),
        ("zen.spamhaus.org", "ip4set", "zen-pbl.txt"),
        ("zen.spamhaus.org", "ip6tset", "zen6.txt"),
        ("dbl.spamhaus.org", "dnset", "dbl.txt"),
        ("multi.uribl.com", "dnset", "uribl.txt"),
    ]
    .into_iter()
    .map(|(zone, kind, file)| Dataset::new(zone, kind, fixture(file)))
    .collect()
}

async fn server() -> Rbldnsd {
    Rbldnsd::serve(&datasets(), "ip4.bl.test").await
}

fn code(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

/// A `blocklists.extra` zone listing 127.0.0.2–127.0.0.11 (refusals left to the defaults).
fn extra(zone: &str, kind: ZoneKind) -> Zone {
    Zone::from_extra(&ExtraZone {
        zone: zone.into(),
        name: zone.into(),
        kind,
        listed: vec![CodeRange {
            first: code("127.0.0.2"),
            last: code("127.0.0.11"),
        }],
        refused: vec![],
        delist_url: Some(format!("https://{zone}/delist")),
    })
}

fn targets(items: &[&str]) -> Targets {
    let mut t = Targets::new();
    for item in items {
        match item.parse::<IpAddr>() {
            Ok(ip) => t.add_ip(ip),
            Err(_) => t.add_domain(DomainName::parse(item).unwrap()),
        };
    }
    t
}

fn target(item: &str) -> Target {
    match item.parse::<IpAddr>() {
        Ok(ip) => Target::Ip(ip),
        Err(_) => Target::Domain(DomainName::parse(item).unwrap()),
    }
}

async fn round(server: &Rbldnsd, zones: &[Zone], items: &[&str]) -> Round {
    let dns = Resolver::new(&server.settings()).unwrap().round();
    run_round(&dns, zones, &targets(items)).await
}

fn listing<'r>(round: &'r Round, item: &str, zone: &str) -> &'r Listing {
    round
        .listing(&target(item), zone)
        .unwrap_or_else(|| panic!("{item} was not queried on {zone}"))
}

fn codes_of(round: &Round, code: FindingCode) -> usize {
    round.findings.iter().filter(|f| f.code == code).count()
}

#[tokio::test]
async fn ip4set_listed_clean_several_codes_refused_and_reasons() {
    let server = server().await;
    let zone = extra("ip4.bl.test", ZoneKind::Ipv4);
    let r = round(
        &server,
        std::slice::from_ref(&zone),
        &[
            "192.0.2.10",
            "192.0.2.11",
            "192.0.2.99",
            "192.0.2.12",
            "198.51.100.2",
        ],
    )
    .await;
    assert!(r.health("ip4.bl.test").unwrap().is_healthy());

    let Listing::Listed(l) = listing(&r, "192.0.2.10", "ip4.bl.test") else {
        panic!("192.0.2.10 should be listed")
    };
    assert_eq!(l.codes, [code("127.0.0.2")]);
    assert_eq!(
        l.reason.as_deref(),
        Some("Spam source 192.0.2.10 seen in traps")
    );

    // Two datasets → two A answers; both are read and decoded.
    let Listing::Listed(l) = listing(&r, "192.0.2.11", "ip4.bl.test") else {
        panic!("192.0.2.11 should be listed")
    };
    let mut codes = l.codes.clone();
    codes.sort();
    assert_eq!(codes, [code("127.0.0.3"), code("127.0.0.4")]);
    assert_eq!(l.meanings.len(), 2);

    assert_eq!(
        listing(&r, "192.0.2.99", "ip4.bl.test"),
        &Listing::NotListed
    );
    assert!(matches!(
        listing(&r, "192.0.2.12", "ip4.bl.test"),
        Listing::Refused { code: c, .. } if *c == code("127.255.255.254")
    ));
    let Listing::Listed(l) = listing(&r, "198.51.100.2", "ip4.bl.test") else {
        panic!("range member should be listed")
    };
    assert_eq!(l.reason.as_deref(), Some("Range listing for 198.51.100.2"));

    // Findings: one per listing (critical), one refusal for the zone (unknown), nothing else.
    assert_eq!(codes_of(&r, FindingCode::BlocklistListed), 3);
    assert_eq!(codes_of(&r, FindingCode::BlocklistQueryRefused), 1);
    assert_eq!(r.findings.len(), 4, "{:#?}", r.findings);
    let first = &r.findings[0];
    assert_eq!(first.severity, Severity::Critical);
    assert_eq!(
        first.message,
        "192.0.2.10 is listed on ip4.bl.test (127.0.0.2-127.0.0.11), reason: \"Spam source 192.0.2.10 seen \
         in traps\"; find and stop the cause, then ask for removal at https://ip4.bl.test/delist."
    );
    let statuses: Vec<Severity> = r.targets.iter().map(|t| t.status).collect();
    assert_eq!(
        statuses,
        [
            Severity::Critical,
            Severity::Critical,
            Severity::Ok,
            Severity::Unknown,
            Severity::Critical
        ]
    );
}

#[tokio::test]
async fn answers_outside_loopback_and_undocumented_codes_are_lookup_failures() {
    let server = server().await;
    let zone = extra("ip4.bl.test", ZoneKind::Ipv4);
    let r = round(&server, &[zone], &["192.0.2.13", "192.0.2.14"]).await;
    assert!(matches!(
        listing(&r, "192.0.2.13", "ip4.bl.test"),
        Listing::LookupFailed(Failure::OutsideLoopback(c)) if c == &[code("10.0.0.1")]
    ));
    assert!(matches!(
        listing(&r, "192.0.2.14", "ip4.bl.test"),
        Listing::LookupFailed(Failure::Undocumented(c)) if c == &[code("127.0.0.99")]
    ));
    assert_eq!(codes_of(&r, FindingCode::BlocklistListed), 0);
    assert_eq!(codes_of(&r, FindingCode::BlocklistLookupFailed), 1);
    assert_eq!(r.status(), Severity::Unknown);
    // Ad-hoc generic semantics on the same data: 127.0.0.99 is a listing there, 10.0.0.1 still not.
    let r = round(
        &server,
        &[generic_zone("ip4.bl.test")],
        &["192.0.2.13", "192.0.2.14"],
    )
    .await;
    assert_eq!(
        listing(&r, "192.0.2.13", "ip4.bl.test").state(),
        "lookup_failed"
    );
    assert!(listing(&r, "192.0.2.14", "ip4.bl.test").is_listed());
}

#[tokio::test]
async fn ip6tset_lists_ipv6_targets_in_nibble_form() {
    let server = server().await;
    let zone = extra("ip6.bl.test", ZoneKind::Ip);
    let r = round(
        &server,
        &[zone],
        &["2001:db8:0:10::25", "2001:db8:0:11::1", "192.0.2.10"],
    )
    .await;
    let health = r.health("ip6.bl.test").unwrap();
    assert!(health.is_healthy(), "{health:#?}");
    assert_eq!(health.probes.len(), 4, "IPv4 and IPv6 test points");
    let Listing::Listed(l) = listing(&r, "2001:db8:0:10::25", "ip6.bl.test") else {
        panic!("IPv6 target should be listed")
    };
    assert_eq!(l.codes, [code("127.0.0.2")]);
    assert!(l.reason.as_deref().unwrap().starts_with("IPv6 network of "));
    assert_eq!(
        listing(&r, "2001:db8:0:11::1", "ip6.bl.test"),
        &Listing::NotListed
    );
    assert_eq!(
        listing(&r, "192.0.2.10", "ip6.bl.test"),
        &Listing::NotListed
    );
}

#[tokio::test]
async fn dnset_domain_lists_check_sending_domains() {
    let server = server().await;
    let zone = extra("dom.bl.test", ZoneKind::Domain);
    let ip4 = extra("ip4.bl.test", ZoneKind::Ipv4);
    let r = round(
        &server,
        &[zone, ip4],
        &["spammy.example", "clean.example", "192.0.2.99"],
    )
    .await;
    assert!(r.health("dom.bl.test").unwrap().is_healthy());
    let Listing::Listed(l) = listing(&r, "spammy.example", "dom.bl.test") else {
        panic!("spammy.example should be listed")
    };
    assert_eq!(
        l.reason.as_deref(),
        Some("Spam domain spammy.example seen in 12 traps")
    );
    assert_eq!(
        listing(&r, "clean.example", "dom.bl.test"),
        &Listing::NotListed
    );
    // Domains are not asked on IP lists and IPs not on domain lists.
    assert!(r.listing(&target("clean.example"), "ip4.bl.test").is_none());
    assert!(r.listing(&target("192.0.2.99"), "dom.bl.test").is_none());
}

#[tokio::test]
async fn zone_without_test_points_is_unhealthy_and_its_listing_untrusted() {
    let server = server().await;
    let r = round(
        &server,
        &[extra("notest.bl.test", ZoneKind::Ipv4)],
        &["192.0.2.10", "192.0.2.99"],
    )
    .await;
    let health = r.health("notest.bl.test").unwrap();
    assert!(
        matches!(health.state(), HealthState::Unhealthy(p) if p[0].starts_with("127.0.0.2 is not listed"))
    );
    for item in ["192.0.2.10", "192.0.2.99"] {
        assert!(
            matches!(
                listing(&r, item, "notest.bl.test"),
                Listing::LookupFailed(Failure::Untrusted(_))
            ),
            "{item}: neither listed nor clean"
        );
    }
    assert_eq!(codes_of(&r, FindingCode::BlocklistListed), 0);
    assert_eq!(codes_of(&r, FindingCode::BlocklistZoneUnhealthy), 1);
    assert_eq!(r.status(), Severity::Unknown);
}

#[tokio::test]
async fn zone_listing_everything_is_unhealthy_and_never_a_listing() {
    let server = server().await;
    let r = round(
        &server,
        &[extra("wild.bl.test", ZoneKind::Ipv4)],
        &["192.0.2.10", "203.0.113.5"],
    )
    .await;
    let health = r.health("wild.bl.test").unwrap();
    assert!(
        matches!(health.state(), HealthState::Unhealthy(p) if p[0].starts_with("127.0.0.1 is listed"))
    );
    assert!(r.targets.iter().all(|t| !t.listings[0].listing.is_listed()));
    assert!(r.targets.iter().all(|t| t.status == Severity::Unknown));
    let finding = r
        .findings
        .iter()
        .find(|f| f.code == FindingCode::BlocklistZoneUnhealthy)
        .unwrap();
    assert!(
        finding
            .message
            .contains("2 target(s) (192.0.2.10, 203.0.113.5) could not be checked")
    );
    assert_eq!(codes_of(&r, FindingCode::BlocklistListed), 0);
}

#[tokio::test]
async fn zone_whose_server_never_answers_is_unknown_not_listed_not_clean() {
    let server = server().await;
    let r = round(
        &server,
        &[extra("silent.bl.test", ZoneKind::Ipv4)],
        &["192.0.2.10"],
    )
    .await;
    let l = listing(&r, "192.0.2.10", "silent.bl.test");
    assert!(
        matches!(
            l,
            Listing::LookupFailed(Failure::Dns {
                kind: "timeout",
                ..
            })
        ),
        "{l:?}"
    );
    assert!(matches!(
        r.health("silent.bl.test").unwrap().state(),
        HealthState::Unreachable(_)
    ));
    assert_eq!(r.targets[0].status, Severity::Unknown);
    assert_eq!(codes_of(&r, FindingCode::BlocklistLookupFailed), 1);
    assert_eq!(codes_of(&r, FindingCode::BlocklistListed), 0);
    let json = serde_json::to_value(&r.targets[0].listings[0]).unwrap();
    assert_eq!(json["listed"], serde_json::Value::Null);
    assert_eq!(json["state"], "lookup_failed");
}

#[tokio::test]
async fn zone_the_server_refuses_is_a_lookup_failure() {
    let server = server().await;
    // rbldnsd answers REFUSED (rcode) for zones it does not serve.
    let r = round(
        &server,
        &[extra("nowhere.bl.test", ZoneKind::Ipv4)],
        &["192.0.2.10"],
    )
    .await;
    let l = listing(&r, "192.0.2.10", "nowhere.bl.test");
    assert!(
        matches!(
            l,
            Listing::LookupFailed(Failure::Dns {
                kind: "refused",
                ..
            })
        ),
        "{l:?}"
    );
    assert_eq!(codes_of(&r, FindingCode::BlocklistLookupFailed), 1);
}

fn catalogue(settings_key: Option<&str>) -> Vec<Zone> {
    let settings = BlocklistSettings {
        defaults: false,
        enable: vec![
            "zen.spamhaus.org".into(),
            "dbl.spamhaus.org".into(),
            "multi.uribl.com".into(),
        ],
        disable: vec![],
        extra: vec![],
        spamhaus_dqs_key: settings_key.map(Secret::new),
        max_range_addresses: 256,
    };
    blocklists::select(&settings).unwrap()
}

#[tokio::test]
async fn catalogue_tables_decode_real_answers() {
    let server = server().await;
    let zones = catalogue(None);
    let r = round(
        &server,
        &zones,
        &[
            "192.0.2.21",
            "192.0.2.20",
            "192.0.2.99",
            "2001:db8::1",
            "phish.example",
            "grey.example",
            "blocked.example",
        ],
    )
    .await;
    for z in &r.zones {
        assert!(z.is_healthy(), "{z:#?}");
    }
    let Listing::Listed(sbl) = listing(&r, "192.0.2.21", "zen.spamhaus.org") else {
        panic!()
    };
    assert_eq!(sbl.meanings[0].label, "SBL");
    assert_eq!(
        sbl.reason.as_deref(),
        Some("https://check.spamhaus.org/sbl/query/SBLTEST 192.0.2.21")
    );
    let Listing::Listed(pbl) = listing(&r, "192.0.2.20", "zen.spamhaus.org") else {
        panic!()
    };
    assert!(pbl.is_policy_only());
    assert_eq!(
        listing(&r, "2001:db8::1", "zen.spamhaus.org"),
        &Listing::NotListed
    );
    let Listing::Listed(dbl) = listing(&r, "phish.example", "dbl.spamhaus.org") else {
        panic!()
    };
    assert_eq!(dbl.meanings[0].text, "phishing domain");
    let Listing::Listed(grey) = listing(&r, "grey.example", "multi.uribl.com") else {
        panic!()
    };
    assert_eq!(grey.meanings[0].label, "grey");
    assert_eq!(
        listing(&r, "blocked.example", "multi.uribl.com").state(),
        "refused"
    );

    let severity_of = |target: &str| {
        r.findings
            .iter()
            .find(|f| f.code == FindingCode::BlocklistListed && f.detail["target"] == target)
            .map(|f| (f.severity, f.message.clone()))
            .unwrap()
    };
    let (sev, msg) = severity_of("192.0.2.21");
    assert_eq!(sev, Severity::Critical);
    assert!(
        msg.starts_with("192.0.2.21 is listed on zen.spamhaus.org (SBL: spam source"),
        "{msg}"
    );
    assert!(
        msg.ends_with("ask for removal at https://check.spamhaus.org/."),
        "{msg}"
    );
    let (sev, msg) = severity_of("192.0.2.20");
    assert_eq!(
        sev,
        Severity::Warning,
        "policy listings rank below reputation ones"
    );
    assert!(msg.contains("policy list (PBL:"), "{msg}");
    let refused = r
        .findings
        .iter()
        .find(|f| f.code == FindingCode::BlocklistQueryRefused)
        .unwrap();
    assert!(
        refused
            .message
            .starts_with("multi.uribl.com refused our queries (127.0.0.1: URIBL refused")
    );
    assert!(
        refused
            .message
            .contains("Fix: query through your own recursive resolver")
    );
}

#[tokio::test]
async fn spamhaus_public_resolver_answer_is_detected_with_the_fix() {
    let server = Rbldnsd::serve(
        &[
            Dataset::new("zen.spamhaus.org", "acl", fixture("zen-public.acl")),
            Dataset::new("zen.spamhaus.org", "ip4set", fixture("testpoints4.txt")),
        ],
        "zen.spamhaus.org",
    )
    .await;
    let r = round(&server, &catalogue(None)[..1], &["192.0.2.10"]).await;
    let health = r.health("zen.spamhaus.org").unwrap();
    assert!(
        matches!(health.state(), HealthState::Refused { code: c, .. } if *c == code("127.255.255.254"))
    );
    assert!(!health.is_healthy());
    assert_eq!(
        listing(&r, "192.0.2.10", "zen.spamhaus.org").state(),
        "refused"
    );
    assert_eq!(codes_of(&r, FindingCode::BlocklistListed), 0);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == FindingCode::BlocklistQueryRefused)
        .unwrap();
    assert_eq!(
        f.severity,
        Severity::Unknown,
        "a refusal is \"could not check\""
    );
    assert!(f.message.contains("public/open resolver"), "{}", f.message);
    assert!(
        f.message.contains("own recursive resolver"),
        "{}",
        f.message
    );
    assert!(f.message.contains("DQS key"), "{}", f.message);
}

#[tokio::test]
async fn dqs_queries_carry_the_key_but_nothing_shows_it() {
    let key = "s3cr3tdqskey";
    let dq = format!("{key}.zen.dq.spamhaus.net");
    let server = Rbldnsd::serve(
        &[
            Dataset::new(&dq, "ip4set", fixture("zen-sbl.txt")),
            Dataset::new(&dq, "ip4set", fixture("zen-xbl.txt")),
        ],
        &dq,
    )
    .await;
    let zones = catalogue(Some(key));
    let zen = &zones[..1];
    assert_eq!(zen[0].queried_as(), "zen.dq.spamhaus.net (DQS)");
    let r = round(&server, zen, &["192.0.2.21", "192.0.2.99"]).await;
    assert!(r.health("zen.spamhaus.org").unwrap().is_healthy());
    assert!(listing(&r, "192.0.2.21", "zen.spamhaus.org").is_listed());
    assert_eq!(
        listing(&r, "192.0.2.99", "zen.spamhaus.org"),
        &Listing::NotListed
    );
    let everything = format!(
        "{r:?} {} {}",
        serde_json::to_string(&r.findings).unwrap(),
        serde_json::to_string(&r.targets).unwrap()
    );
    assert!(!everything.contains(key), "the DQS key leaked");
    assert!(everything.contains("zen.dq.spamhaus.net (DQS)"));
}
