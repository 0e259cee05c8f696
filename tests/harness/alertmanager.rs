//! A real Alertmanager (Debian's `prometheus-alertmanager`) on a free loopback port: a config with
//! one receiver that sends nowhere, clustering off (`--cluster.listen-address=`), storage in a temp
//! dir; ready when `/-/ready` answers 200; stopped by its PID when dropped.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::daemon::try_request;
use super::{free_port, loopback, terminate};

/// A running Alertmanager.
pub struct Alertmanager {
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

impl Alertmanager {
    /// Start one and wait until ready (15 s at most).
    pub fn start() -> Alertmanager {
        Alertmanager::start_on(free_port())
    }

    /// Like [`Alertmanager::start`], on a given port: a test starts it after the daemon.
    pub fn start_on(port: u16) -> Alertmanager {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: nowhere\n  group_wait: 1s\nreceivers:\n  - name: nowhere\n",
        )
        .expect("write alertmanager.yml");
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).expect("log file");
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus-alertmanager starts (apt-get install prometheus-alertmanager)");
        let mut am = Alertmanager {
            addr: loopback(port),
            child,
            dir,
        };
        am.wait_ready(Duration::from_secs(15));
        am
    }

    fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("alertmanager exited ({status}):\n{}", self.log());
            }
            if try_request(self.addr, "GET", "/-/ready", &[], b"").is_ok_and(|r| r.status == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager not ready within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }

    /// `GET /api/v2/alerts`: the alerts it holds that have not ended.
    pub fn alerts(&self) -> Vec<Value> {
        let r = try_request(self.addr, "GET", "/api/v2/alerts", &[], b"")
            .unwrap_or_else(|e| panic!("GET /api/v2/alerts: {e}"));
        assert_eq!(r.status, 200, "{}", r.body);
        match r.json() {
            Value::Array(a) => a,
            other => panic!("not an array: {other}"),
        }
    }

    /// The alerts named `alertname`.
    pub fn alerts_named(&self, alertname: &str) -> Vec<Value> {
        self.alerts()
            .into_iter()
            .filter(|a| a["labels"]["alertname"] == alertname)
            .collect()
    }

    /// Poll [`Alertmanager::alerts`] until `pred` holds (at most `within`).
    pub fn wait_for(&self, within: Duration, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let alerts = self.alerts();
            if pred(&alerts) {
                return alerts;
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager never held the expected alerts; last: {alerts:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
