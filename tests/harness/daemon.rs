//! The real senderscope binary as a daemon: a config in a temp dir, a free loopback port, started
//! with `serve -c`, ready when `/readyz` answers 200; SIGTERM (then SIGKILL) when dropped.
//!
//! DNS points at a loopback port nobody answers on, so no test reaches the internet: checks that
//! query DNS come out as `lookup_failed`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, loopback};

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_senderscope")
}

/// A test configuration, rendered to YAML.
#[derive(Debug, Clone)]
pub struct TestConfig {
    /// Loopback port to listen on.
    pub port: u16,
    /// State database.
    pub state: PathBuf,
    /// `(domain, sending IPs)`.
    pub domains: Vec<(String, Vec<String>)>,
    /// `server.api_token_file`.
    pub token_file: Option<PathBuf>,
    /// `schedule.checks`.
    pub checks: String,
    /// `schedule.jitter` (0: first checks run at once).
    pub jitter: f64,
    /// Port for `dns.nameservers` (nobody answers there unless a test starts a server).
    pub dns_port: u16,
    /// `dkim_selectors` of every domain.
    pub dkim_selectors: Vec<String>,
    /// `schedule.blocklists`.
    pub blocklists_every: String,
    /// The `blocklists:` section as YAML (flow style). Default `{defaults: false}`: no zone, so no
    /// blocklist rounds unless a test asks for them.
    pub blocklists: String,
    /// More `server:` keys, one `key: value` per entry (e.g. `header_read_timeout: 2s`).
    pub server: Vec<String>,
}

impl TestConfig {
    /// A config for `domains` with state under `dir`, checks hourly, first run at once.
    pub fn new(dir: &Path, domains: &[&str]) -> TestConfig {
        TestConfig {
            port: free_port(),
            state: dir.join("state/senderscope.db"),
            domains: domains
                .iter()
                .map(|d| ((*d).to_owned(), vec!["192.0.2.10".to_owned()]))
                .collect(),
            token_file: None,
            checks: "1h".into(),
            jitter: 0.0,
            dns_port: free_port(),
            dkim_selectors: vec!["s1".into()],
            blocklists_every: "1h".into(),
            blocklists: "{defaults: false}".into(),
            server: Vec::new(),
        }
    }

    /// The YAML text.
    pub fn yaml(&self) -> String {
        let mut y = format!("server:\n  listen: \"127.0.0.1:{}\"\n", self.port);
        if let Some(t) = &self.token_file {
            y += &format!("  api_token_file: {}\n", t.display());
        }
        for line in &self.server {
            y += &format!("  {line}\n");
        }
        y += &format!(
            "state:\n  path: {}\ndns:\n  nameservers: [\"127.0.0.1:{}\"]\n  timeout: 1s\n  attempts: 1\n\
             schedule:\n  checks: {}\n  blocklists: {}\n  jitter: {}\n  job_timeout: 30s\n\
             blocklists: {}\n",
            self.state.display(),
            self.dns_port,
            self.checks,
            self.blocklists_every,
            self.jitter,
            self.blocklists
        );
        if self.domains.is_empty() {
            y += "domains: []\n";
        } else {
            y += "domains:\n";
            for (name, ips) in &self.domains {
                y += &format!(
                    "  - name: {name}\n    dkim_selectors: [{}]\n    sending_ips: [{}]\n",
                    self.dkim_selectors.join(", "),
                    ips.join(", ")
                );
            }
        }
        y
    }

    /// Write it to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.yaml())
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

/// A running daemon.
pub struct Daemon {
    child: Option<Child>,
    addr: SocketAddr,
    log: PathBuf,
}

/// One HTTP response.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The sample lines of a `/metrics` body whose family is one of `families`, sorted.
    pub fn samples(&self, families: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = self
            .body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.split(['{', ' '])
                    .next()
                    .is_some_and(|f| families.contains(&f))
            })
            .map(str::to_owned)
            .collect();
        out.sort();
        out
    }

    /// The value of one series of a `/metrics` body (`name{labels}` exactly as rendered).
    pub fn value(&self, series: &str) -> Option<f64> {
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    }
}

/// `promtool check metrics` on a `/metrics` body: no error and no lint warning.
pub fn promtool_check(body: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install prometheus)");
    promtool
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = promtool.wait_with_output().expect("promtool output");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}

impl Daemon {
    /// Start `serve -c config` with extra environment and wait until ready (15 s at most).
    pub fn start(config: &Path, port: u16, env: &[(&str, &str)]) -> Daemon {
        Daemon::start_with(config, port, env, &[])
    }

    /// Like [`Daemon::start`], with extra `serve` arguments.
    pub fn start_with(config: &Path, port: u16, env: &[(&str, &str)], args: &[&str]) -> Daemon {
        let log = config.with_extension("log");
        let stderr = std::fs::File::create(&log).expect("create daemon log");
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "-c"])
            .arg(config)
            .args(args)
            .env_remove("SENDERSCOPE_API_TOKEN")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn senderscope");
        let mut daemon = Daemon {
            child: Some(child),
            addr: loopback(port),
            log,
        };
        daemon.wait_ready(Duration::from_secs(15));
        daemon
    }

    fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                panic!(
                    "senderscope exited ({status}) before ready:\n{}",
                    self.log()
                );
            }
            if try_request(self.addr, "GET", "/readyz", &[], b"").is_ok_and(|r| r.status == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "senderscope not ready within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("daemon already stopped")
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send a signal by name (`TERM`, `HUP`, `KILL`).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Wait for the process to exit (at most `within`); returns its status and how long it took.
    pub fn wait_exit(&mut self, within: Duration) -> Option<(ExitStatus, Duration)> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.child = None;
                return Some((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
    }

    /// An HTTP request; `headers` as `(name, value)`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        try_request(self.addr, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    /// Poll `GET path` until `pred` holds (at most `within`).
    pub fn wait_for(&self, path: &str, within: Duration, pred: impl Fn(&Reply) -> bool) -> Reply {
        let deadline = Instant::now() + within;
        loop {
            let r = self.get(path);
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "GET {path} never satisfied the condition; last: {r:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            super::terminate(child);
        }
    }
}

/// A minimal HTTP/1.1 client (one request per connection), enough for tests.
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head += &format!("{n}: {v}\r\n");
    }
    head += "\r\n";
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
