//! Hostile input and overload, each against a real server started here: nsd (an SPF tree fanning out,
//! CNAME loops) behind a counting relay of our own (`harness::dns_relay`), the daemon
//! binary (slow and idle connection floods, a damaged or shared state file, a symlinked config) and
//! rbldnsd (targets no zone can check).

mod blocklists;
mod dns;
mod server;
mod state;

use std::process::Command;

use serde_json::Value;

/// One run of the `senderscope` binary.
struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stderr))
    }
}

fn senderscope(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_senderscope"))
        .args(args)
        .output()
        .expect("run senderscope");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The findings of check `name` of the first domain in a `check --format json` report.
fn findings<'a>(report: &'a Value, name: &str) -> &'a [Value] {
    report["domains"][0]["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == name))
        .and_then(|c| c["findings"].as_array())
        .map_or(&[], Vec::as_slice)
}

/// The codes of those findings.
fn codes(report: &Value, check: &str) -> Vec<String> {
    findings(report, check)
        .iter()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect()
}
