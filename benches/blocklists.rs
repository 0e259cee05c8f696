//! Benchmark: 1,000 sending IPs × 10 zones against a loopback rbldnsd, as one blocklist round.
//! Target (issue 8): ≤ 2 s wall, never more than `dns.concurrency` queries in flight.
//!
//! Run: `cargo bench --bench blocklists` (release). Needs rbldnsd (Debian package) and root or a
//! `nobody` user for its chroot, like the integration tests. Prints one line per round and a summary.

// A test or bench binary: its helpers are `pub` within it and may unwrap (a panic is a failed run).
#![allow(unreachable_pub, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/harness/mod.rs"]
mod harness;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use harness::rbldnsd::{Dataset, Rbldnsd};
use senderscope::blocklists::{
    History, Listing, RoundReport, Targets, generic_zone, observations, run_round,
};
use senderscope::config::ZoneKind;
use senderscope::dns::Resolver;
use senderscope::store::{SqliteStore, Store};

const IPS: u32 = 1_000;
const ZONES: usize = 10;
const ROUNDS: usize = 5;
const CONCURRENCY: usize = 64;

fn target(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 20, 0, 0)) + i)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench());
}

async fn bench() {
    // Each zone lists the RFC 5782 test point and every (7 + zone)th target, with a TXT reason, so
    // rounds include listings (A + TXT) as well as NXDOMAIN answers.
    let data = tempfile::tempdir().expect("temp dir");
    let mut datasets = Vec::new();
    let mut expected_listed = 0;
    for z in 0..ZONES {
        let mut text =
            String::from(":127.0.0.2:Listed in bench zone, see https://bl.test/$\n127.0.0.2\n");
        for i in (0..IPS).filter(|i| i % (7 + z as u32) == 0) {
            writeln!(text, "{}", target(i)).expect("write to string");
            expected_listed += 1;
        }
        let path = data.path().join(format!("zone{z}.txt"));
        std::fs::write(&path, text).expect("write zone data");
        datasets.push(Dataset::new(&format!("z{z}.bench.test"), "ip4set", &path));
    }
    let server = Rbldnsd::serve(&datasets, "z0.bench.test").await;
    let mut settings = server.settings();
    settings.timeout = Duration::from_secs(2);
    settings.attempts = 2;
    settings.concurrency = NonZeroUsize::new(CONCURRENCY).expect("non-zero");
    let zones: Vec<_> = (0..ZONES)
        .map(|z| generic_zone(&format!("z{z}.bench.test")).with_kind(ZoneKind::Ipv4))
        .collect();
    let mut targets = Targets::new();
    for i in 0..IPS {
        targets.add_ip(IpAddr::V4(target(i)));
    }

    let state = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&state.path().join("state.db")).expect("store");
    let mut walls = Vec::new();
    let mut books = Vec::new();
    for round_no in 1..=ROUNDS {
        // A fresh resolver each round: no answer is reused from an earlier round.
        let resolver = Resolver::new(&settings).expect("resolver");
        let started = Instant::now();
        let round = run_round(&resolver.round(), &zones, &targets).await;
        let wall = started.elapsed();
        let listed = count(&round, |l| l.is_listed());
        let failed = count(&round, |l| matches!(l, Listing::LookupFailed(_)));
        println!(
            "round {round_no}: {:>6.0} ms wall, {} queries, {} listed, {} failed, max in flight {} (limit {CONCURRENCY})",
            wall.as_secs_f64() * 1e3,
            resolver.queries_sent(),
            listed,
            failed,
            resolver.max_in_flight(),
        );
        assert!(
            resolver.max_in_flight() <= CONCURRENCY,
            "more than dns.concurrency queries in flight"
        );
        assert_eq!(failed, 0, "every query must be answered on loopback");
        assert_eq!(listed, expected_listed, "listings found");
        assert!(round.zones.iter().all(|z| z.is_healthy()));
        walls.push(wall);

        // What the daemon's job does after the queries: listing periods, one read of the periods
        // the sentences need, the per-target reports, one write of them all.
        let started = Instant::now();
        let at = 1_795_000_000 + round_no as i64;
        store
            .observe_listings(observations(&round, at))
            .await
            .expect("observe listings");
        let mut history = History::new();
        let ended_since = at - senderscope::blocklists::ENDED_SHOWN.as_secs() as i64;
        for p in store.listing_history(ended_since).await.expect("history") {
            history.add(p);
        }
        let report = RoundReport::new(round, &zones, &history, at);
        store
            .save_checks(report.stored(at, wall))
            .await
            .expect("save reports");
        let book = started.elapsed();
        println!(
            "         {:>6.0} ms bookkeeping (listing periods, one history read, {} reports stored)",
            book.as_secs_f64() * 1e3,
            report.targets.len() + 1
        );
        books.push(book);
    }
    books.sort();
    println!(
        "daemon bookkeeping after the queries: median {:.0} ms",
        books[books.len() / 2].as_secs_f64() * 1e3
    );
    walls.sort();
    let median = walls[walls.len() / 2];
    println!(
        "{IPS} IPs x {ZONES} zones: median {:.0} ms, best {:.0} ms over {ROUNDS} rounds (target <= 2000 ms)",
        median.as_secs_f64() * 1e3,
        walls[0].as_secs_f64() * 1e3
    );
    if median > Duration::from_secs(2) {
        println!("WARNING: median round slower than the 2 s target");
    }
}

fn count(round: &senderscope::blocklists::Round, f: impl Fn(&Listing) -> bool) -> usize {
    round
        .targets
        .iter()
        .flat_map(|t| &t.listings)
        .filter(|l| f(&l.listing))
        .count()
}
