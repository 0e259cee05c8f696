//! TEMPORARY — a crude stand-in for the config engineer's loader (raw.rs, validate.rs, reload.rs), written
//! only so the runtime half (CLI, daemon, HTTP, tests) compiles and runs against the agreed interface.
//! The lead drops this file at merge and takes the real implementation. Do not build on its details:
//! semantic errors point at 1:1, durations and defaults are approximate, `blocklists.extra` is ignored.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::model::*;
use super::reload::{ReloadRequest, ReloadTrigger};
use super::secret::Secret;
use crate::dns::DnsSettings;

/// TEMPORARY: where the configuration comes from.
pub enum ConfigSource {
    /// A YAML file.
    File(PathBuf),
    /// The built-in default.
    Embedded,
}

const EMBEDDED: &str = "# TEMPORARY embedded default (stub)\n\
server: { listen: \"127.0.0.1:9797\" }\n\
state: { path: ./state/senderscope.db }\n\
domains:\n  - name: example.com\n    dkim_selectors: [s1]\n    sending_ips: [192.0.2.10]\n";

/// TEMPORARY: `$SENDERSCOPE_CONFIG`, `./config/senderscope.yaml`, `/etc/senderscope/senderscope.yaml`, embedded.
pub fn default_source() -> ConfigSource {
    if let Some(p) = std::env::var_os("SENDERSCOPE_CONFIG") {
        return ConfigSource::File(PathBuf::from(p));
    }
    for p in [
        "config/senderscope.yaml",
        "/etc/senderscope/senderscope.yaml",
    ] {
        if Path::new(p).exists() {
            return ConfigSource::File(PathBuf::from(p));
        }
    }
    ConfigSource::Embedded
}

/// TEMPORARY: every problem, one `file:line:col: key.path: message` per line.
#[derive(Debug)]
pub struct ConfigError {
    lines: Vec<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.lines.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

fn problem(origin: &str, path: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        lines: vec![format!("{origin}:1:1: {path}: {message}")],
    }
}

/// TEMPORARY: read and validate a source.
pub fn load(source: &ConfigSource) -> Result<Config, ConfigError> {
    match source {
        ConfigSource::Embedded => load_str(EMBEDDED, "<embedded>"),
        ConfigSource::File(path) => {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| problem(&origin, "(file)", format!("cannot read: {e}")))?;
            load_str(&text, &origin)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    server: RawServer,
    state: RawState,
    dns: RawDns,
    schedule: RawSchedule,
    domains: Vec<RawDomain>,
    blocklists: RawBlocklists,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: Option<String>,
    api_token_file: Option<PathBuf>,
    max_body_bytes: Option<usize>,
    request_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawState {
    path: Option<PathBuf>,
    retention: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawDns {
    nameservers: Vec<String>,
    timeout: Option<String>,
    attempts: Option<usize>,
    concurrency: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawSchedule {
    checks: Option<String>,
    blocklists: Option<String>,
    jitter: Option<f64>,
    concurrency: Option<usize>,
    job_timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    name: String,
    #[serde(default)]
    dkim_selectors: Vec<String>,
    #[serde(default)]
    sending_ips: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawBlocklists {
    defaults: Option<bool>,
    enable: Vec<String>,
    disable: Vec<String>,
    extra: Vec<serde_yaml::Value>,
    spamhaus_dqs_key_file: Option<PathBuf>,
    max_range_addresses: Option<usize>,
}

fn duration(
    origin: &str,
    path: &str,
    text: Option<&str>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(text) = text else { return Ok(default) };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| problem(origin, path, format!("{text:?} is not a duration")))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        "w" => n * 604800,
        _ => return Err(problem(origin, path, format!("{text:?} is not a duration"))),
    };
    Ok(Duration::from_secs(secs))
}

fn nonzero(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

/// TEMPORARY: parse and validate YAML text; `origin` names it in messages.
pub fn load_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let raw: Raw = serde_yaml::from_str(text).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        ConfigError {
            lines: vec![format!("{origin}:{line}:{col}: {msg}")],
        }
    })?;
    let o = origin;
    let listen: SocketAddr = raw
        .server
        .listen
        .as_deref()
        .unwrap_or("127.0.0.1:9797")
        .parse()
        .map_err(|e| problem(o, "server.listen", e))?;
    let api_token = match std::env::var("SENDERSCOPE_API_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Some(Secret::new(t)),
        _ => match &raw.server.api_token_file {
            Some(p) => {
                let t = std::fs::read_to_string(p).map_err(|e| {
                    problem(
                        o,
                        "server.api_token_file",
                        format!("cannot read {}: {e}", p.display()),
                    )
                })?;
                if t.trim().is_empty() {
                    return Err(problem(o, "server.api_token_file", "the file is empty"));
                }
                Some(Secret::new(t))
            }
            None => None,
        },
    };
    let server = ServerSettings {
        listen,
        api_token,
        max_body_bytes: raw.server.max_body_bytes.unwrap_or(10 << 20),
        request_timeout: duration(
            o,
            "server.request_timeout",
            raw.server.request_timeout.as_deref(),
            Duration::from_secs(30),
        )?,
    };
    let state = StateSettings {
        path: raw
            .state
            .path
            .unwrap_or_else(|| PathBuf::from("./state/senderscope.db")),
        retention: duration(
            o,
            "state.retention",
            raw.state.retention.as_deref(),
            Duration::from_secs(400 * 86400),
        )?,
    };
    let mut nameservers = Vec::new();
    for (i, ns) in raw.dns.nameservers.iter().enumerate() {
        let addr = ns
            .parse::<SocketAddr>()
            .or_else(|_| ns.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
            .map_err(|_| problem(o, &format!("dns.nameservers[{i}]"), "not an IP[:port]"))?;
        nameservers.push(addr);
    }
    let dns = DnsSettings {
        nameservers,
        timeout: duration(
            o,
            "dns.timeout",
            raw.dns.timeout.as_deref(),
            Duration::from_secs(5),
        )?,
        attempts: raw.dns.attempts.unwrap_or(2),
        concurrency: nonzero(raw.dns.concurrency.unwrap_or(64)),
    };
    let schedule = ScheduleSettings {
        checks: duration(
            o,
            "schedule.checks",
            raw.schedule.checks.as_deref(),
            Duration::from_secs(900),
        )?,
        blocklists: duration(
            o,
            "schedule.blocklists",
            raw.schedule.blocklists.as_deref(),
            Duration::from_secs(1800),
        )?,
        jitter: raw.schedule.jitter.unwrap_or(0.1).clamp(0.0, 0.5),
        concurrency: nonzero(raw.schedule.concurrency.unwrap_or(8)),
        job_timeout: duration(
            o,
            "schedule.job_timeout",
            raw.schedule.job_timeout.as_deref(),
            Duration::from_secs(120),
        )?,
    };
    let mut domains = Vec::new();
    for (i, d) in raw.domains.iter().enumerate() {
        let name =
            DomainName::parse(&d.name).map_err(|e| problem(o, &format!("domains[{i}].name"), e))?;
        if domains.iter().any(|x: &DomainSettings| x.name == name) {
            return Err(problem(
                o,
                &format!("domains[{i}].name"),
                "duplicate domain",
            ));
        }
        let mut sending_ips = Vec::new();
        for (j, ip) in d.sending_ips.iter().enumerate() {
            let net = ip
                .parse::<ipnet::IpNet>()
                .or_else(|_| ip.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    problem(
                        o,
                        &format!("domains[{i}].sending_ips[{j}]"),
                        "not an IP or CIDR",
                    )
                })?;
            sending_ips.push(net);
        }
        domains.push(DomainSettings {
            name,
            dkim_selectors: d.dkim_selectors.clone(),
            sending_ips,
        });
    }
    let blocklists = BlocklistSettings {
        defaults: raw.blocklists.defaults.unwrap_or(true),
        enable: raw.blocklists.enable,
        disable: raw.blocklists.disable,
        extra: Vec::new(),
        spamhaus_dqs_key: None,
        max_range_addresses: raw.blocklists.max_range_addresses.unwrap_or(256),
    };
    let _ = (raw.blocklists.extra, raw.blocklists.spamhaus_dqs_key_file);
    Ok(Config {
        server,
        state,
        dns,
        schedule,
        domains,
        blocklists,
    })
}

/// TEMPORARY pieces of `config::reload`.
pub mod reload_stub {
    use super::*;
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;

    #[derive(Default)]
    struct Inner {
        last_error: Option<String>,
        last_success: Option<i64>,
    }

    /// TEMPORARY: the reload state shown in `/api/v1/status` and the success gauge.
    #[derive(Clone)]
    pub struct ReloadStatus {
        gauge: prometheus::IntGauge,
        inner: Arc<Mutex<Inner>>,
    }

    impl ReloadStatus {
        /// Start as successful (the first config loaded).
        pub fn new(gauge: prometheus::IntGauge) -> Self {
            gauge.set(1);
            let inner = Inner {
                last_error: None,
                last_success: Some(crate::checks::unix_now()),
            };
            ReloadStatus {
                gauge,
                inner: Arc::new(Mutex::new(inner)),
            }
        }

        /// The refused config's errors, `None` after a good (re)load.
        pub fn last_error(&self) -> Option<String> {
            self.inner.lock().ok().and_then(|i| i.last_error.clone())
        }

        /// When the last good (re)load happened.
        pub fn last_success_unix(&self) -> Option<i64> {
            self.inner.lock().ok().and_then(|i| i.last_success)
        }

        fn set(&self, result: &Result<(), String>) {
            self.gauge.set(i64::from(result.is_ok()));
            if let Ok(mut i) = self.inner.lock() {
                match result {
                    Ok(()) => {
                        i.last_error = None;
                        i.last_success = Some(crate::checks::unix_now());
                    }
                    Err(e) => i.last_error = Some(e.clone()),
                }
            }
        }
    }

    /// TEMPORARY: the one reload task.
    pub async fn run(
        source: ConfigSource,
        current: watch::Sender<Arc<Config>>,
        mut requests: mpsc::Receiver<ReloadRequest>,
        status: ReloadStatus,
        shutdown: CancellationToken,
    ) {
        loop {
            let request = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = requests.recv() => match r { Some(r) => r, None => return },
            };
            let result = match load(&source) {
                Ok(config) => {
                    current.send_if_modified(|old| {
                        let changed = **old != config;
                        if changed {
                            *old = Arc::new(config);
                        }
                        changed
                    });
                    tracing::info!(trigger = ?request.trigger, "configuration reloaded");
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(trigger = ?request.trigger, errors = %e, "configuration refused; the old one keeps running");
                    Err(e.to_string())
                }
            };
            status.set(&result);
            if let Some(reply) = request.reply {
                let _ = reply.send(result);
            }
        }
    }

    /// TEMPORARY: stops watching when dropped.
    pub struct ConfigWatcher {
        _debouncer: notify_debouncer_full::Debouncer<
            notify::RecommendedWatcher,
            notify_debouncer_full::RecommendedCache,
        >,
    }

    /// TEMPORARY: watch the file's directory and ask for a reload when the file changes.
    pub fn watch_file(
        path: &Path,
        requests: mpsc::Sender<ReloadRequest>,
    ) -> Result<ConfigWatcher, notify::Error> {
        let name = path.file_name().map(|n| n.to_owned());
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut debouncer = notify_debouncer_full::new_debouncer(
            Duration::from_millis(300),
            None,
            move |result: notify_debouncer_full::DebounceEventResult| {
                let Ok(events) = result else { return };
                let hit = events.iter().any(|e| {
                    e.paths
                        .iter()
                        .any(|p| p.file_name().map(|n| n.to_owned()) == name)
                });
                if hit {
                    let _ = requests.try_send(ReloadRequest {
                        trigger: ReloadTrigger::File,
                        reply: None,
                    });
                }
            },
        )?;
        debouncer.watch(&dir, notify::RecursiveMode::NonRecursive)?;
        Ok(ConfigWatcher {
            _debouncer: debouncer,
        })
    }
}
