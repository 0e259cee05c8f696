//! Alerting end to end: the daemon's engine against a real Alertmanager and rbldnsd, webhook
//! delivery with retries to a local receiver, `senderscope alerts test`, and the shipped
//! Prometheus rules under promtool.

mod alertmanager;
mod cli;
mod flows;
mod promtool;
mod receiver;
mod webhook;

use std::path::{Path, PathBuf};

use crate::harness::daemon::TestConfig;
use crate::harness::rbldnsd::Dataset;

/// One IPv4 blocklist zone, `ip.bl.test`, listing with 127.0.0.2.
const ZONES: &str =
    "{defaults: false, extra: [{zone: ip.bl.test, kind: ipv4, listed: [127.0.0.2]}]}";

/// An ip4set for `ip.bl.test`: the RFC 5782 test point and `listed`, with a TXT reason.
pub(crate) fn ip4set(dir: &Path, name: &str, listed: &[&str]) -> Dataset {
    let mut text = String::from(":127.0.0.2:Spam source $ seen in traps\n127.0.0.2\n");
    for ip in listed {
        text += &format!("{ip}\n");
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Dataset::new("ip.bl.test", "ip4set", path)
}

/// A daemon config for one domain `listed.test` with two sending IPs, blocklist rounds every second
/// against `ip.bl.test` on `dns_port`, and `alerts` (YAML lines under `alerts:`,
/// indented by two) appended. Every rule but `blocklist_listed` is switched off: DNS posture
/// checks against rbldnsd come out as lookup failures, which are not what these tests are about.
pub(crate) fn config(dir: &Path, dns_port: u16, alerts: &str) -> (TestConfig, PathBuf) {
    let mut cfg = TestConfig::new(dir, &[]);
    cfg.domains = vec![(
        "listed.test".into(),
        vec!["192.0.2.10".into(), "192.0.2.11".into()],
    )];
    cfg.dns_port = dns_port;
    cfg.blocklists_every = "1s".into();
    cfg.blocklists = ZONES.into();
    let path = write(dir, &cfg, alerts);
    (cfg, path)
}

/// Write `cfg` with `alerts` to `dir/config.yaml` (again: a test changes the alerts and reloads).
pub(crate) fn write(dir: &Path, cfg: &TestConfig, alerts: &str) -> PathBuf {
    let mut yaml = cfg.yaml();
    yaml += "alerts:\n  evaluate_every: 200ms\n  resend_every: 1s\n  rules:\n";
    for rule in [
        "spf_too_many_lookups",
        "spf_ip_not_authorized",
        "dkim_key_problem",
        "dmarc_missing",
        "dmarc_policy_none",
        "dmarc_policy_weakened",
        "record_changed",
        "mx_broken",
        "mta_sts_broken",
        "dns_unreachable",
    ] {
        yaml += &format!("    {rule}: {{enabled: false}}\n");
    }
    yaml += alerts;
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}
