//! A real DNSBL server (Debian's rbldnsd) on a free loopback port, serving datasets written as files.
//!
//! rbldnsd chroots into its data directory and drops to `nobody`, so the data is copied into a fresh
//! temporary directory made readable by `nobody` (a tempdir is 0700). It runs in the foreground (`-n`)
//! and is stopped by its PID when dropped.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use senderscope::dns::{DnsSettings, LookupError, Resolver};

use super::{free_port, loopback, terminate};

/// One dataset of a zone: `zone:kind:file` on rbldnsd's command line. A zone may have several datasets
/// (their answers add up) and several zones may share one rbldnsd.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The zone served (`bl.test`).
    pub zone: String,
    /// rbldnsd dataset type: `ip4set`, `ip6tset`, `dnset`, `acl`, `generic`, …
    pub kind: &'static str,
    /// The data file (copied into the server's directory).
    pub file: std::path::PathBuf,
}

impl Dataset {
    /// A dataset of `zone` read from `file`.
    pub fn new(zone: &str, kind: &'static str, file: impl AsRef<Path>) -> Self {
        Dataset {
            zone: zone.to_owned(),
            kind,
            file: file.as_ref().to_path_buf(),
        }
    }
}

/// A running rbldnsd.
pub struct Rbldnsd {
    addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Rbldnsd {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

impl Rbldnsd {
    /// Start rbldnsd serving `datasets` and wait until it answers for `ready_zone` (a zone that answers:
    /// not one whose ACL ignores us).
    pub async fn serve(datasets: &[Dataset], ready_zone: &str) -> Rbldnsd {
        Rbldnsd::serve_on(free_port(), datasets, ready_zone).await
    }

    /// Like [`Rbldnsd::serve`], on a given port: a test restarts the server there with new data.
    pub async fn serve_on(port: u16, datasets: &[Dataset], ready_zone: &str) -> Rbldnsd {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod data dir");
        let mut specs = Vec::new();
        for (i, d) in datasets.iter().enumerate() {
            let name = format!("{i}-{}", d.file.file_name().unwrap().to_string_lossy());
            let copy = dir.path().join(&name);
            std::fs::copy(&d.file, &copy)
                .unwrap_or_else(|e| panic!("copy {}: {e}", d.file.display()));
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644))
                .expect("chmod data file");
            specs.push(format!("{}:{}:{name}", d.zone, d.kind));
        }
        let child = Command::new("rbldnsd")
            .arg("-n")
            .args(["-b", &format!("127.0.0.1/{port}")])
            .arg("-r")
            .arg(dir.path())
            .arg("-p")
            .arg(dir.path().join("rbldnsd.pid"))
            .args(["-u", "nobody", "-c", "0"])
            .args(&specs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rbldnsd starts (apt-get install rbldnsd)");
        let server = Rbldnsd {
            addr: loopback(port),
            child,
            _dir: dir,
        };
        server.wait_ready(ready_zone).await;
        server
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// DNS settings pointing at this server only (1 s timeout, one attempt: loopback answers at once,
    /// and the "server never answers" tests stay quick).
    pub fn settings(&self) -> DnsSettings {
        DnsSettings {
            nameservers: vec![self.addr],
            timeout: Duration::from_secs(1),
            attempts: 1,
            ..DnsSettings::default()
        }
    }

    async fn wait_ready(&self, zone: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut settings = self.settings();
        settings.timeout = Duration::from_millis(200);
        let resolver = Resolver::new(&settings).expect("resolver");
        let probe = format!("2.0.0.127.{zone}");
        loop {
            match resolver.round().a(&probe).await {
                Err(LookupError::Timeout | LookupError::Unreachable(_)) => {}
                _ => return,
            }
            assert!(
                Instant::now() < deadline,
                "rbldnsd did not answer within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
