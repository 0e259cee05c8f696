//! Foundation benchmarks (issue 2), run against the release binary:
//!
//! - start to ready on an empty store (spawn → `READY=1` on a notify socket, and → first `/readyz` 200),
//!   and with 100 domains of stored history (the start publishes the latest stored results);
//! - idle RSS with 100 configured domains (checks pushed out by jitter, so none has run);
//! - `/metrics` with ≥ 10,000 series under 50 concurrent clients (wrk), p99 latency;
//! - `/metrics` for 1,000 domains (2 DKIM selectors, one sending IP each) rendered in-process from a
//!   state seeded from the store (`render`);
//! - RSS after the first round of 1,000 domains (`round`).
//!
//! `cargo bench --bench foundation` (needs `wrk`). Targets: ≤ 100 ms, ≤ 15 MB, p99 ≤ 5 ms.
//! Figures, not pass/fail: the machine is shared, so run it on a quiet one to compare.

// A test or bench binary: its helpers are `pub` within it and may unwrap (a panic is a failed run).
#![allow(unreachable_pub, clippy::unwrap_used)]

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_senderscope");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A config for `domains` generated domains; `jitter` 0.5 over 24 h keeps checks from running.
fn config(dir: &Path, port: u16, domains: usize, checks_now: bool) -> std::path::PathBuf {
    let mut y = format!(
        "server: {{ listen: \"127.0.0.1:{port}\" }}\nstate: {{ path: {} }}\n\
         dns: {{ nameservers: [\"127.0.0.1:{}\"], timeout: 1s, attempts: 1 }}\n",
        dir.join("state.db").display(),
        free_port()
    );
    y += if checks_now {
        "schedule: { checks: 1h, jitter: 0, concurrency: 16 }\n"
    } else {
        "schedule: { checks: 24h, jitter: 0.5 }\n"
    };
    if domains == 0 {
        y += "domains: []\n";
    } else {
        y += "domains:\n";
        for i in 0..domains {
            y += &format!(
                "  - name: d{i}.bench.test\n    dkim_selectors: [s1, s2]\n    sending_ips: [192.0.2.{}]\n",
                i % 250 + 1
            );
        }
    }
    let path = dir.join("config.yaml");
    std::fs::write(&path, y).expect("write config");
    path
}

fn spawn(config: &Path, notify: Option<&Path>) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .env_remove("WATCHDOG_USEC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match notify {
        Some(p) => cmd.env("NOTIFY_SOCKET", p),
        None => cmd.env_remove("NOTIFY_SOCKET"),
    };
    cmd.spawn().expect("spawn senderscope")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn wait_ready(port: u16) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if get(port, "/readyz").is_some_and(|(s, _)| s == 200) {
            return Instant::now();
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    panic!("not ready within 20 s");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn start_to_ready() {
    let mut to_notify = Vec::new();
    let mut to_http = Vec::new();
    for _ in 0..20 {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let cfg = config(dir.path(), port, 0, false);
        let sock_path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&sock_path).expect("notify socket");
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let started = Instant::now();
        let child = spawn(&cfg, Some(&sock_path));
        let mut buf = [0u8; 256];
        loop {
            let n = sock.recv(&mut buf).expect("READY=1 within 20 s");
            if String::from_utf8_lossy(&buf[..n]).contains("READY=1") {
                to_notify.push(started.elapsed());
                break;
            }
        }
        to_http.push(wait_ready(port) - started);
        stop(child);
    }
    to_notify.sort();
    to_http.sort();
    println!(
        "start → READY=1 (empty store, 20 runs): median {:.1} ms, max {:.1} ms",
        ms(percentile(&to_notify, 0.5)),
        ms(*to_notify.last().expect("runs"))
    );
    println!(
        "start → first /readyz 200:             median {:.1} ms, max {:.1} ms   (target ≤ 100 ms)",
        ms(percentile(&to_http, 0.5)),
        ms(*to_http.last().expect("runs"))
    );
}

/// A store as months of running leave it for the `config(…, domains, …)` domains: per domain and
/// posture check 50 outcomes (spans), per sending IP 50 PTR outcomes, per blocklist target 20 outcomes
/// with each zone's answer, one open listing per ten IPs. Returns the number of results stored.
fn seed_history(config_path: &Path, db: &Path) -> usize {
    seed(config_path, db, 50, 20)
}

/// [`seed_history`] with `spans` outcomes per posture check and `listing_spans` per blocklist target.
fn seed(config_path: &Path, db: &Path, spans: i64, listing_spans: i64) -> usize {
    use senderscope::findings::{CheckReport, Finding, FindingCode, Severity};
    use senderscope::results::{CheckFacts, CheckId};
    use senderscope::store::{CheckResult, Listed, ListingObservation, SqliteStore, Store};
    use serde_json::json;

    let text = std::fs::read_to_string(config_path).expect("read config");
    let config = senderscope::config::load_str(&text, "bench.yaml").expect("config");
    let (zones, targets) = senderscope::blocklists::configured(&config).expect("zones");
    let zones: Vec<String> = zones.iter().map(|z| z.zone().to_owned()).collect();
    let result = |target: &str, check: &str, k: i64, facts: serde_json::Value| {
        let check: CheckId = check.parse().expect("a check name");
        let facts = CheckFacts::from_stored(check, &facts.to_string()).expect("facts");
        let findings = if k % 2 == 0 {
            vec![]
        } else {
            vec![Finding::new(
                FindingCode::RecordChanged,
                Severity::Info,
                format!("The record at {target} changed between two runs ({k}): it was \"v=old\" and is now \"v=new\"."),
            )
            .with_detail(json!({"name": target, "old": "v=old", "new": "v=new", "changed_at": k}))]
        };
        CheckResult {
            report: CheckReport {
                target: target.to_owned(),
                check,
                status: senderscope::findings::worst(&findings),
                record: Some(format!("v=spf1 include:_spf.{target} -all")),
                findings,
                checked_at: 1_790_000_000 + k * 3_600,
                duration: Duration::from_millis(40),
            },
            facts,
        }
    };
    let mut results = Vec::new();
    for d in &config.domains {
        let name = d.name.as_str();
        for k in 0..spans {
            for check in ["mx", "mta_sts", "tls_rpt", "bimi", "bulk_sender"] {
                results.push(result(name, check, k, json!({})));
            }
            results.push(result(
                name,
                "spf",
                k,
                json!({"spf_dns_lookups": k % 10, "spf_present": true}),
            ));
            results.push(result(
                name,
                "dkim",
                k,
                json!({"dkim_keys": [
                {"selector": "s1", "key_type": "rsa", "bits": 2048},
                {"selector": "s2", "key_type": "rsa", "bits": 1024 + 1024 * (k % 2)}]}),
            ));
            results.push(result(
                name,
                "dmarc",
                k,
                json!({"dmarc_policy": "reject", "dmarc_enforced": true}),
            ));
            for ip in d.single_ips() {
                results.push(result(
                    &ip.to_string(),
                    "ptr",
                    k,
                    json!({"ptr": "mail.bench.test", "fcrdns": true}),
                ));
            }
        }
    }
    let answers: serde_json::Map<String, serde_json::Value> = zones
        .iter()
        .map(|z| (z.clone(), json!("not_listed")))
        .collect();
    for t in targets.targets() {
        for k in 0..listing_spans {
            results.push(result(
                &t.to_string(),
                "blocklists",
                k,
                json!({"zones": answers}),
            ));
        }
    }
    let listings: Vec<ListingObservation> = targets
        .targets()
        .iter()
        .step_by(10)
        .map(|t| ListingObservation {
            target: t.to_string(),
            zone: zones[0].clone(),
            listed: Some(Listed {
                codes: vec!["127.0.0.2".into()],
                reason: None,
            }),
            at: 1_790_000_000,
        })
        .collect();
    let stored = results.len();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(db).expect("store");
        store.save_results(results).await.expect("seed results");
        store
            .observe_listings(listings)
            .await
            .expect("seed listings");
        store.close().await.expect("close");
    });
    stored
}

/// Start to ready with 100 domains whose results are in the store: what publishing them costs.
fn start_to_ready_with_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = config(dir.path(), port, 100, false);
    let seeded = Instant::now();
    let rows = seed_history(&cfg, &dir.path().join("state.db"));
    let seeding = seeded.elapsed();
    let mut to_http = Vec::new();
    let mut restore_ms = Vec::new();
    let log = dir.path().join("daemon.log");
    for _ in 0..20 {
        let started = Instant::now();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "-c"])
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"));
        let child = cmd.spawn().expect("spawn senderscope");
        to_http.push(wait_ready(port) - started);
        stop(child);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(ms) = text
            .lines()
            .find(|l| l.contains("published the stored results"))
            .and_then(|l| l.split(" ms=").nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
        {
            restore_ms.push(ms);
        }
    }
    to_http.sort();
    restore_ms.sort();
    println!(
        "start → first /readyz 200, 100 domains, {rows} stored results (seeded in {:.1} s): median {:.1} ms, max {:.1} ms   (target ≤ 100 ms); publishing them: median {} ms",
        seeding.as_secs_f64(),
        ms(percentile(&to_http, 0.5)),
        ms(*to_http.last().expect("runs")),
        restore_ms
            .get(restore_ms.len() / 2)
            .map_or("?".into(), u64::to_string)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn idle_rss() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = config(dir.path(), port, 100, false);
    let child = spawn(&cfg, None);
    wait_ready(port);
    std::thread::sleep(Duration::from_secs(3));
    let idle = rss_kib(child.id());
    let _ = get(port, "/api/v1/status");
    let _ = get(port, "/metrics");
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(child.id());
    println!(
        "idle RSS, 100 domains, no check run yet: {:.1} MB (after one /api/v1/status + /metrics: {:.1} MB)   (target ≤ 15 MB)",
        idle as f64 / 1024.0,
        after as f64 / 1024.0
    );
    stop(child);
}

/// RSS after the first round of 1,000 domains (2 DKIM selectors and one sending IP each). The
/// configured nameserver is a closed loopback port, so every lookup fails at once and every check
/// stores a `lookup_failed` finding (more text per result than a healthy domain has).
fn rss_after_round() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = config(dir.path(), port, 1000, true);
    let child = spawn(&cfg, None);
    wait_ready(port);
    let deadline = Instant::now() + Duration::from_secs(600);
    let runs = |body: &str| -> f64 {
        body.lines()
            .filter(|l| l.starts_with(r#"senderscope_scheduler_job_runs_total{job="posture""#))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    loop {
        let done = get(port, "/metrics").map(|(_, b)| runs(&b)).unwrap_or(0.0);
        if done >= 1000.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} posture runs after 600 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let rss = rss_kib(child.id());
    let series = get(port, "/metrics")
        .map(|(_, b)| b.lines().filter(|l| !l.starts_with('#')).count())
        .unwrap_or(0);
    println!(
        "RSS after a round of 1,000 domains: {:.1} MB, /metrics {series} lines   (target ≤ 40 MB)",
        rss as f64 / 1024.0
    );
    stop(child);
}

fn metrics_under_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    // ~27 series per domain with every lookup failing (check_status, last_check and one `unknown`
    // findings series per check; no zero-valued findings series since the state families).
    let cfg = config(dir.path(), port, 400, true);
    let child = spawn(&cfg, None);
    wait_ready(port);
    let deadline = Instant::now() + Duration::from_secs(120);
    let series = loop {
        let n = get(port, "/metrics")
            .map(|(_, body)| {
                body.lines()
                    .filter(|l| !l.starts_with('#') && !l.is_empty())
                    .count()
            })
            .unwrap_or(0);
        if n >= 10_000 {
            break n;
        }
        assert!(Instant::now() < deadline, "only {n} series after 120 s");
        std::thread::sleep(Duration::from_millis(500));
    };
    let url = format!("http://127.0.0.1:{port}/metrics");
    println!("/metrics with {series} series, wrk -t2 -c50 -d10s (target p99 ≤ 5 ms):");
    for (name, header) in [
        (
            "gzip (as Prometheus scrapes)",
            Some("Accept-Encoding: gzip"),
        ),
        ("plain text", None),
    ] {
        let mut args = vec!["-t2", "-c50", "-d10s", "--latency"];
        if let Some(h) = header {
            args.extend(["-H", h]);
        }
        args.push(&url);
        let out = Command::new("wrk")
            .args(&args)
            .output()
            .expect("wrk runs (apt-get install wrk)");
        let text = String::from_utf8_lossy(&out.stdout);
        let pick = |label: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(label))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        };
        println!(
            "  {name:<30} p50 {}  p99 {}  {}  {}",
            pick("50%").trim_start_matches("50% "),
            pick("99%").trim_start_matches("99% "),
            pick("Requests/sec"),
            pick("Transfer/sec")
        );
    }

    stop(child);
}

/// One rendering of the state families for 1,000 domains (2 DKIM selectors and one sending IP each,
/// the default blocklist zones), from a state seeded from the store as at start: median and p99,
/// series and bytes.
fn render_1000_domains() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path(), free_port(), 1000, false);
    let db = dir.path().join("state.db");
    seed(&cfg, &db, 1, 1);
    let text = std::fs::read_to_string(&cfg).expect("read config");
    let config = senderscope::config::load_str(&text, "bench.yaml").expect("config");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let store = senderscope::store::SqliteStore::open(&db).expect("store");
    let (results, _) = rt
        .block_on(senderscope::results::Results::open(
            std::sync::Arc::new(store),
            &config,
        ))
        .expect("seed the state");
    let m = senderscope::metrics::Metrics::new().expect("metrics");
    m.read_state(results.state().clone());
    let first = m.render().expect("render");
    let series = first
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("process_"))
        .count();
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let text = m.render().expect("render");
            std::hint::black_box(text);
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "  /metrics for 1,000 domains: {series} series, {} bytes; render median {:.2} ms, p99 {:.2} ms",
        first.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks one figure.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if wanted("ready") {
        start_to_ready();
    }
    if wanted("history") {
        start_to_ready_with_history();
    }
    if wanted("rss") {
        idle_rss();
    }
    if wanted("metrics") {
        metrics_under_load();
    }
    if wanted("render") {
        render_1000_domains();
    }
    if wanted("round") {
        rss_after_round();
    }
}
