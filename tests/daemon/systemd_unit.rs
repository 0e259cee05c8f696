//! systemd/senderscope.service: verified and hardened (exposure ≤ 2.0), checked offline.

use std::process::Command;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/senderscope.service");

#[test]
fn the_unit_verifies_cleanly() {
    // verify insists that ExecStart= exists: check a copy pointing at the binary under test, with
    // nothing else changed.
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let installed = "ExecStart=/usr/local/bin/senderscope ";
    assert!(unit.contains(installed), "the unit runs {installed}…");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("senderscope.service");
    let here = format!("ExecStart={} ", crate::harness::daemon::binary());
    std::fs::write(&copy, unit.replace(installed, &here)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze runs (apt-get install systemd)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Only the unit under test is judged: verify also loads its dependencies from the host, whose
    // own units may produce warnings of their own.
    let ours: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("senderscope"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{report}"
    );
}

#[test]
fn the_unit_exposure_is_at_most_2_0() {
    let out = Command::new("systemd-analyze")
        .args([
            "security",
            "--offline=true",
            "--threshold=20",
            "--no-pager",
            UNIT,
        ])
        .output()
        .expect("systemd-analyze runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for senderscope.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(exposure <= 2.0, "exposure {exposure} > 2.0:\n{text}");
    assert!(out.status.success(), "threshold exceeded:\n{text}");
}
