//! Hostile DNS: an SPF tree fanning out to thousands of terms (nsd behind a counting relay, the check's
//! peak memory read by GNU time), CNAME loops and long chains (nsd).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::harness::dns_relay::CountingRelay;
use crate::harness::nsd::Nsd;

use super::{codes, findings, senderscope};

/// Includes under the fan-out root and DNS-querying terms in each included record.
const INCLUDES: usize = 30;
const TERMS: usize = 2000;

/// `fan.test`: `mx.fan.test` includes 30 records of 2,000 `mx:` terms, every target with 10 MX hosts;
/// `a.fan.test` the same with `a:` terms. Targets are distinct names (wildcards), so no cache helps.
fn fan_out_zone(dir: &Path) -> (String, std::path::PathBuf) {
    let mut z = String::from(
        "$ORIGIN fan.test.\n$TTL 300\n@ IN SOA ns.fan.test. hostmaster.fan.test. 1 3600 600 86400 300\n\
         @ IN NS ns.fan.test.\nns IN A 127.0.0.1\n",
    );
    for (root, kind) in [("mx", "m"), ("a", "a")] {
        let _ = write!(z, "{root} IN TXT \"v=spf1\"");
        for i in 0..INCLUDES {
            let _ = write!(z, " \" include:{kind}{i}.fan.test\"");
        }
        z += " \" -all\"\n";
        for i in 0..INCLUDES {
            let _ = write!(z, "{kind}{i} IN TXT \"v=spf1\"");
            for j in 0..TERMS {
                let _ = write!(z, " \" {root}:t{j}.{kind}{i}.fan.test\"");
            }
            z += " \" -all\"\n";
            if root == "mx" {
                for h in 0..10 {
                    let _ = writeln!(z, "*.{kind}{i} IN MX {h} h{h}.{kind}{i}.fan.test.");
                }
            } else {
                let _ = writeln!(z, "*.{kind}{i} IN A 192.0.2.200");
            }
        }
    }
    for i in 0..INCLUDES {
        for h in 0..10 {
            let _ = writeln!(z, "h{h}.m{i} IN A 192.0.2.{}", h + 1);
        }
    }
    let path = dir.join("fan.test.zone");
    std::fs::write(&path, z).expect("write the fan-out zone");
    ("fan.test".to_owned(), path)
}

/// Peak RSS in bytes from GNU time's `-f %M` (kilobytes) on the last line of stderr.
fn peak_rss(stderr: &str) -> u64 {
    stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no peak RSS in:\n{stderr}"))
}

#[tokio::test]
async fn an_spf_fan_out_is_bounded_in_memory_output_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    let nsd = Nsd::serve(&[fan_out_zone(dir.path()), Nsd::test_tld()]).await;
    let relay = CountingRelay::start(nsd.addr());
    let nameserver = relay.addr().to_string();
    for domain in ["mx.fan.test", "a.fan.test"] {
        let before = relay.queries();
        let out = Command::new("/usr/bin/time")
            .args(["-f", "peak_rss_kb=%M", env!("CARGO_BIN_EXE_senderscope")])
            .args([
                "check",
                "--nameserver",
                &nameserver,
                "--format",
                "json",
                domain,
            ])
            .output()
            .expect("run senderscope under /usr/bin/time (apt-get install time)");
        let sent = relay.queries() - before;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let rss = peak_rss(&stderr);
        assert!(rss < 100 << 20, "{domain}: peak RSS {rss} bytes");
        assert!(
            stdout.len() < 1 << 20,
            "{domain}: {} bytes of JSON",
            stdout.len()
        );
        assert!(sent < 2000, "{domain}: {sent} queries for one check");
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
        let too_many = findings(&report, "spf")
            .iter()
            .find(|f| f["code"] == "spf.too_many_lookups")
            .unwrap_or_else(|| panic!("{domain}: no too_many_lookups in {report}"));
        let message = too_many["message"].as_str().unwrap();
        // 30 includes + 30 × 2,000 terms, every one counted even where not looked up.
        let total = INCLUDES + INCLUDES * TERMS;
        assert!(
            message.starts_with(&format!("SPF needs at least {total} DNS lookups")),
            "{message}"
        );
        assert!(
            message.contains("The diagnosis stopped walking the tree at"),
            "{message}"
        );
        assert!(
            !too_many["detail"]["cut"].as_array().unwrap().is_empty(),
            "{too_many}"
        );
        eprintln!(
            "{domain}: peak RSS {} KiB, {sent} queries, {} bytes of JSON",
            rss >> 10,
            stdout.len()
        );
    }
}

/// `loop.test`: a CNAME loop and a chain of 10 CNAMEs ending at an SPF record.
fn cname_zone(dir: &Path) -> (String, std::path::PathBuf) {
    let mut z = String::from(
        "$ORIGIN loop.test.\n$TTL 300\n@ IN SOA ns.loop.test. hostmaster.loop.test. 1 3600 600 86400 300\n\
         @ IN NS ns.loop.test.\nns IN A 127.0.0.1\n\
         ring IN CNAME ring2.loop.test.\nring2 IN CNAME ring.loop.test.\n",
    );
    let _ = writeln!(z, "chain IN CNAME c1.loop.test.");
    for i in 1..10 {
        let _ = writeln!(z, "c{i} IN CNAME c{}.loop.test.", i + 1);
    }
    z += "c10 IN TXT \"v=spf1 -all\"\nshort IN CNAME c10.loop.test.\n";
    let path = dir.join("loop.test.zone");
    std::fs::write(&path, z).expect("write the CNAME zone");
    ("loop.test".to_owned(), path)
}

#[tokio::test]
async fn cname_loops_and_overlong_chains_are_lookup_failures_not_missing_records() {
    let dir = tempfile::tempdir().unwrap();
    let nsd = Nsd::serve(&[cname_zone(dir.path()), Nsd::test_tld()]).await;
    let ns = nsd.addr().to_string();
    for domain in ["ring.loop.test", "chain.loop.test"] {
        let report =
            senderscope(&["check", "--nameserver", &ns, "--format", "json", domain]).json();
        let spf = codes(&report, "spf");
        assert!(
            spf.contains(&"spf.lookup_failed".to_owned()),
            "{domain}: {spf:?}"
        );
        assert!(
            !spf.contains(&"spf.missing".to_owned()),
            "{domain}: {spf:?}"
        );
    }
    // A chain within the bound is followed to its record.
    let report = senderscope(&[
        "check",
        "--nameserver",
        &ns,
        "--format",
        "json",
        "short.loop.test",
    ])
    .json();
    let spf = codes(&report, "spf");
    assert!(
        !spf.iter()
            .any(|c| c == "spf.lookup_failed" || c == "spf.missing"),
        "{spf:?}"
    );
}
