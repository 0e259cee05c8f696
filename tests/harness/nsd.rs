//! A real authoritative DNS server (Debian's nsd) on a free loopback port, serving zone files.
//!
//! Response-rate limiting is off (`rrl-ratelimit: 0`): Debian's default of 200 answers/s per source
//! drops answers under a fast test client and turns them into false timeouts.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use senderscope::dns::{DnsSettings, LookupError, Resolver};

use super::{free_port, loopback, terminate};

/// A running nsd; stopped (SIGTERM to the whole server) when dropped.
pub struct Nsd {
    addr: SocketAddr,
    child: Child,
    conf: PathBuf,
    zones: Vec<(String, PathBuf)>,
    _dir: tempfile::TempDir,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

impl Nsd {
    /// Serve every `*.zone` file in `dir`; the zone's name is the file stem (`clean.test.zone` → `clean.test`).
    pub async fn serve_dir(dir: &Path) -> Nsd {
        let mut zones: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "zone"))
            .map(|p| {
                let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                (stem, p)
            })
            .collect();
        zones.sort();
        Nsd::serve(&zones).await
    }

    /// The named fixture zones (tests/fixtures/zones/<name>.zone) as (zone, file) pairs for [`Nsd::serve`].
    pub fn fixtures(names: &[&str]) -> Vec<(String, PathBuf)> {
        names.iter().map(|n| Nsd::fixture(n)).collect()
    }

    /// One fixture zone (tests/fixtures/zones/<name>.zone) as a (zone, file) pair.
    pub fn fixture(name: &str) -> (String, PathBuf) {
        (
            name.to_owned(),
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/zones/{name}.zone")),
        )
    }

    /// The empty `test` TLD zone (tests/fixtures/zones/test.zone). Serve it beside zones under `.test`
    /// when lookups of their parents must be NXDOMAIN, as on the Internet (DMARC tree walk, BIMI fallback);
    /// without it nsd answers REFUSED there, which suites use to provoke lookup failures.
    pub fn test_tld() -> (String, PathBuf) {
        (
            "test".into(),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zones/test.zone"),
        )
    }

    /// Serve the given (zone name, zone file) pairs. Each zone file is checked with nsd-checkzone first.
    pub async fn serve(zones: &[(String, PathBuf)]) -> Nsd {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  username: \"\"\n  chroot: \"\"\n  database: \"\"\n  \
             zonelistfile: {d}/zone.list\n  xfrdfile: {d}/xfrd.state\n  pidfile: {d}/nsd.pid\n  \
             server-count: 1\n  rrl-ratelimit: 0\n  verbosity: 1\n  hide-version: yes\n\
             remote-control:\n  control-enable: no\n",
            d = dir.path().display()
        );
        let zones: Vec<(String, PathBuf)> = zones
            .iter()
            .map(|(name, file)| {
                let file = std::fs::canonicalize(file)
                    .unwrap_or_else(|e| panic!("zone file {}: {e}", file.display()));
                (name.clone(), file)
            })
            .collect();
        for (name, file) in &zones {
            write!(
                conf,
                "zone:\n  name: {name}\n  zonefile: {}\n",
                file.display()
            )
            .unwrap();
        }
        let conf_path = dir.path().join("nsd.conf");
        std::fs::write(&conf_path, conf).expect("write nsd.conf");
        check_zones(&zones);
        let nsd = Nsd {
            addr: loopback(port),
            child: start(&conf_path),
            conf: conf_path,
            zones,
            _dir: dir,
        };
        nsd.wait_ready().await;
        nsd
    }

    /// Stop the server and start it again on the same port with the same zone files, re-read from disk:
    /// how a test changes what DNS answers (rewrite a zone file, then restart). Zones are checked again.
    pub async fn restart(&mut self) {
        terminate(&mut self.child);
        check_zones(&self.zones);
        self.child = start(&self.conf);
        self.wait_ready().await;
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// DNS settings pointing at this server only.
    pub fn settings(&self) -> DnsSettings {
        DnsSettings {
            nameservers: vec![self.addr],
            timeout: Duration::from_secs(2),
            attempts: 2,
            ..DnsSettings::default()
        }
    }

    async fn wait_ready(&self) {
        let probe = self.zones.first().map_or("localhost", |z| z.0.as_str());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut settings = self.settings();
        settings.timeout = Duration::from_millis(200);
        settings.attempts = 1;
        let resolver = Resolver::new(&settings).expect("resolver");
        loop {
            match resolver.round().txt(probe).await {
                Err(LookupError::Timeout | LookupError::Unreachable(_)) => {}
                _ => return,
            }
            assert!(Instant::now() < deadline, "nsd did not answer within 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Each zone file must pass nsd-checkzone.
fn check_zones(zones: &[(String, PathBuf)]) {
    for (name, file) in zones {
        let check = Command::new("nsd-checkzone")
            .arg(name)
            .arg(file)
            .output()
            .expect("nsd-checkzone runs (apt-get install nsd)");
        assert!(
            check.status.success(),
            "zone {name} ({}) is invalid: {}{}",
            file.display(),
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

/// nsd in the foreground with `conf`.
fn start(conf: &Path) -> Child {
    Command::new("nsd")
        .arg("-d")
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsd starts (apt-get install nsd)")
}

#[tokio::test]
async fn nsd_serves_multi_string_txt_nxdomain_and_nodata() {
    use senderscope::dns::Answer;
    let nsd = Nsd::serve(&[(
        "harness.test".into(),
        Path::new("tests/fixtures/zones/harness.test.zone").to_path_buf(),
    )])
    .await;
    let lookups = Resolver::new(&nsd.settings()).unwrap().round();
    let txt = lookups.txt("harness.test").await.unwrap();
    assert_eq!(txt.records()[0].joined(), "v=spf1 -all");
    assert_eq!(txt.records()[0].strings.len(), 2);
    assert_eq!(lookups.txt("nope.harness.test").await, Ok(Answer::NxDomain));
    assert_eq!(lookups.txt("ns.harness.test").await, Ok(Answer::NoData));
}

#[tokio::test]
async fn a_restart_serves_the_rewritten_zone_on_the_same_port() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("harness.test.zone");
    let text = std::fs::read_to_string("tests/fixtures/zones/harness.test.zone").unwrap();
    std::fs::write(&zone, &text).unwrap();
    let mut nsd = Nsd::serve(&[("harness.test".into(), zone.clone())]).await;
    let before = nsd.addr();
    let resolver = Resolver::new(&nsd.settings()).unwrap();
    let txt = resolver.round().txt("harness.test").await.unwrap();
    assert_eq!(txt.records()[0].joined(), "v=spf1 -all");

    let changed = text.replace("\"-all\"", "\"~all\"");
    assert_ne!(changed, text, "the fixture has the string to rewrite");
    std::fs::write(&zone, changed).unwrap();
    nsd.restart().await;
    assert_eq!(nsd.addr(), before);
    let txt = resolver.round().txt("harness.test").await.unwrap();
    assert_eq!(txt.records()[0].joined(), "v=spf1 ~all");
}
