//! A real Prometheus (Debian's `prometheus` package) on a free loopback port, scraping the given
//! targets every second, its TSDB in a temp dir; ready when `/-/ready` answers 200; stopped by its
//! PID when dropped. [`Prometheus::query`] runs an instant query through `/api/v1/query`.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::daemon::try_request;
use super::{free_port, loopback, terminate};

/// The name of the scrape job ([`Prometheus::start`]'s targets): Prometheus' own `job` label.
pub const JOB: &str = "senderscope";

/// A running Prometheus.
pub struct Prometheus {
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

impl Prometheus {
    /// Start one scraping `targets` every second (job [`JOB`]) and wait until ready (30 s at most).
    pub fn start(targets: &[SocketAddr]) -> Prometheus {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )
        .expect("write prometheus.yml");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts (apt-get install prometheus)");
        let mut p = Prometheus {
            addr: loopback(port),
            child,
            dir,
        };
        p.wait_ready(Duration::from_secs(30));
        p
    }

    fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", self.log());
            }
            if try_request(self.addr, "GET", "/-/ready", &[], b"").is_ok_and(|r| r.status == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query: `Ok(result)` (the `data.result` array) or `Err(the error Prometheus gave)`.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let path = format!("/api/v1/query?query={}", percent_encode(expr));
        let r = try_request(self.addr, "GET", &path, &[], b"").map_err(|e| e.to_string())?;
        let body: Value = serde_json::from_str(&r.body).map_err(|e| format!("{e}: {}", r.body))?;
        if body["status"] != "success" {
            return Err(format!(
                "{} {}: {}",
                r.status, body["errorType"], body["error"]
            ));
        }
        match &body["data"]["result"] {
            Value::Array(a) => Ok(a.clone()),
            // A scalar or string result is one value.
            other => Ok(vec![other.clone()]),
        }
    }

    /// Poll `expr` until `pred` holds on its result (at most `within`); the last result otherwise.
    pub fn wait_for(
        &self,
        expr: &str,
        within: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>, String> {
        let deadline = Instant::now() + within;
        loop {
            let r = self.query(expr);
            if r.as_deref().is_ok_and(&pred) || Instant::now() >= deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// RFC 3986 §2.1 percent-encoding of everything but the unreserved characters.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
