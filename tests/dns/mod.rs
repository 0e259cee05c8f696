//! The DNS transport against a hostile server (tests/harness/hostile_dns.rs) and a real nsd: every
//! query gets its own answer or a timeout, never another's; nothing hangs; sockets are reused.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::time::Duration;

use senderscope::dns::{Answer, DnsSettings, LookupError, Resolver};

use crate::harness::hostile_dns::HostileDns;
use crate::harness::nsd::Nsd;

/// What a hostile mode must come to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Its own right answer, nothing else.
    Right,
    Timeout,
    ServFail,
    Refused,
    NxDomain,
    /// Some failure, whichever (a broken TCP reply): never records.
    Failure,
}

const MODES: [(&str, Expect); 16] = [
    ("ok", Expect::Right),
    ("wrongid", Expect::Right),
    ("wrongq", Expect::Right),
    ("otherport", Expect::Right),
    ("onlyotherport", Expect::Timeout),
    ("trunc", Expect::Right),
    ("tcpjunk", Expect::Failure),
    ("garbage", Expect::Right),
    ("oversized", Expect::Right),
    ("flood", Expect::Right),
    ("late", Expect::Timeout),
    ("silent", Expect::Timeout),
    ("servfail", Expect::ServFail),
    ("refused", Expect::Refused),
    ("nxdomain", Expect::NxDomain),
    ("ok", Expect::Right),
];

fn settings(server: std::net::SocketAddr) -> DnsSettings {
    DnsSettings {
        nameservers: vec![server],
        timeout: Duration::from_millis(700),
        attempts: 1,
        concurrency: NonZeroUsize::new(64).unwrap(),
    }
}

#[tokio::test]
async fn every_query_gets_its_own_answer_or_a_timeout_from_a_hostile_server() {
    let server = HostileDns::start().await;
    let resolver = Resolver::new(&settings(server.addr())).unwrap();
    let round = resolver.round();
    // Every mode 12 times, all at once and interleaved, each query with its own number.
    let queries: Vec<(u16, Expect, String)> = (0..12u16)
        .flat_map(|i| {
            MODES.iter().enumerate().map(move |(m, (mode, expect))| {
                let n = i * 100 + m as u16;
                (n, *expect, HostileDns::name(mode, n))
            })
        })
        .collect();
    let all = futures::future::join_all(queries.iter().map(|(_, _, name)| round.a(name)));
    // A hang is a failure, not a slow test: every query is bounded by its timeout.
    let results = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("the round finished");
    for ((n, expect, name), result) in queries.iter().zip(results) {
        match (expect, &result) {
            (Expect::Right, Ok(Answer::Records(r))) => {
                assert_eq!(r.items, vec![HostileDns::right_answer(*n)], "{name}")
            }
            (Expect::Timeout, Err(LookupError::Timeout))
            | (Expect::ServFail, Err(LookupError::ServFail))
            | (Expect::Refused, Err(LookupError::Refused))
            | (Expect::NxDomain, Ok(Answer::NxDomain)) => {}
            (Expect::Failure, Err(e)) => {
                assert!(!matches!(e, LookupError::InvalidName(_)), "{name}: {e}")
            }
            _ => panic!("{name}: expected {expect:?}, got {result:?}"),
        }
    }
    // The decoys were seen and dropped, not merely never sent.
    assert!(
        resolver.rejected_replies() >= 12 * 7,
        "only {} replies rejected",
        resolver.rejected_replies()
    );
    // After all that, the same sockets still answer right.
    let after = resolver.round();
    for n in 5000..5010u16 {
        let answer = after.a(&HostileDns::name("ok", n)).await.unwrap();
        assert_eq!(answer.records(), [HostileDns::right_answer(n)]);
    }
}

#[tokio::test]
async fn a_late_answer_never_reaches_a_later_query() {
    let server = HostileDns::start().await;
    let mut s = settings(server.addr());
    s.timeout = Duration::from_millis(300);
    let resolver = Resolver::new(&s).unwrap();
    let round = resolver.round();
    assert_eq!(
        round.a(&HostileDns::name("late", 1)).await,
        Err(LookupError::Timeout)
    );
    // The late reply (the answer for query 1) arrives while these are pending on the same sockets.
    let names: Vec<String> = (2..400u16).map(|n| HostileDns::name("ok", n)).collect();
    let mut later = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1800);
    while tokio::time::Instant::now() < deadline {
        // A fresh round each time: no answer comes from the cache.
        let fresh = resolver.round();
        later.extend(futures::future::join_all(names.iter().map(|n| fresh.a(n))).await);
    }
    for (i, result) in later.iter().enumerate() {
        let n = 2 + (i % names.len()) as u16;
        assert_eq!(
            result.as_ref().map(|a| a.records().to_vec()),
            Ok(vec![HostileDns::right_answer(n)])
        );
    }
}

#[tokio::test]
async fn sockets_are_reused_and_rotated_not_opened_per_query() {
    let server = HostileDns::start().await;
    let resolver = Resolver::new(&settings(server.addr())).unwrap();
    let round = resolver.round();
    let names: Vec<String> = (0..3000u16).map(|n| HostileDns::name("ok", n)).collect();
    let results = futures::future::join_all(names.iter().map(|n| round.a(n))).await;
    let mut seen = HashSet::new();
    for (n, result) in results.into_iter().enumerate() {
        let answer = result.unwrap();
        assert_eq!(answer.records(), [HostileDns::right_answer(n as u16)]);
        seen.insert(answer.records()[0]);
    }
    assert_eq!(seen.len(), 3000);
    assert_eq!(resolver.queries_sent(), 3000);
    // 4 sockets of 512 queries each, replaced as they fill: 3000 queries take 6 to 8 sockets, not 3000.
    let opened = resolver.sockets_opened();
    assert!((6..=8).contains(&opened), "{opened} sockets opened");
}

#[tokio::test]
async fn nsd_answers_through_the_socket_pool_with_tcp_for_long_records() {
    let zone = "pool.test";
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "$ORIGIN {zone}.\n$TTL 300\n@ SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n@ NS ns.{zone}.\nns A 127.0.0.1\n"
    );
    for n in 0..300 {
        text.push_str(&format!("h{n} A 10.1.{}.{}\n", n / 256, n % 256));
    }
    // Eight 255-byte strings: over the 1232 bytes advertised, so truncated over UDP.
    let long: Vec<String> = (0..8)
        .map(|i| format!("\"{}\"", char::from(b'a' + i).to_string().repeat(255)))
        .collect();
    text.push_str(&format!("long TXT {}\n", long.join(" ")));
    text.push_str("alias CNAME h7\n");
    let file = dir.path().join(format!("{zone}.zone"));
    std::fs::write(&file, text).unwrap();
    let nsd = Nsd::serve(&[(zone.to_owned(), file)]).await;
    let resolver = Resolver::new(&settings(nsd.addr())).unwrap();
    let round = resolver.round();
    let names: Vec<String> = (0..300).map(|n| format!("h{n}.{zone}")).collect();
    let results = futures::future::join_all(names.iter().map(|n| round.a(n))).await;
    for (n, result) in results.into_iter().enumerate() {
        let ip = std::net::Ipv4Addr::new(10, 1, (n / 256) as u8, (n % 256) as u8);
        assert_eq!(result.unwrap().records(), [ip]);
    }
    let txt = round.txt(&format!("long.{zone}")).await.unwrap();
    assert_eq!(txt.records()[0].strings.len(), 8);
    assert_eq!(txt.records()[0].joined().len(), 8 * 255);
    let Answer::Records(alias) = round.a(&format!("alias.{zone}")).await.unwrap() else {
        panic!("alias resolves")
    };
    assert_eq!(alias.items, [std::net::Ipv4Addr::new(10, 1, 0, 7)]);
    assert_eq!(alias.aliases, [format!("h7.{zone}")]);
    assert_eq!(
        round.a(&format!("missing.{zone}")).await,
        Ok(Answer::NxDomain)
    );
    assert_eq!(round.txt(&format!("h1.{zone}")).await, Ok(Answer::NoData));
    assert!(resolver.sockets_opened() <= 4);
}
