//! `senderscope config validate`: exit 0 valid, 1 invalid with file:line:col on stderr.

use std::process::Command;

use crate::harness::daemon::{TestConfig, binary};

fn validate(path: &std::path::Path) -> (Option<i32>, String, String) {
    let out = Command::new(binary())
        .args(["config", "validate", "-c"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_valid_file_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.yaml");
    TestConfig::new(dir.path(), &["a.test", "b.test"]).write(&path);
    let (code, stdout, stderr) = validate(&path);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("valid"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn an_invalid_file_exits_1_naming_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    // Line 4, column 21: a number where the selector list belongs.
    std::fs::write(
        &path,
        "domains:\n  - name: a.test\n    sending_ips: []\n    dkim_selectors: 5\n",
    )
    .unwrap();
    let (code, stdout, stderr) = validate(&path);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    let first = stderr.lines().next().unwrap_or_default();
    let prefix = format!("{}:4:", path.display());
    assert!(
        first.starts_with(&prefix),
        "expected {prefix}COL: …, got {stderr}"
    );
    let col: u32 = first[prefix.len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("column in {first}"));
    assert!(
        (5..=21).contains(&col),
        "column points into the line: {first}"
    );
    assert!(first.contains("domains[0].dkim_selectors"), "{first}");
}

#[test]
fn a_missing_file_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = validate(&dir.path().join("nope.yaml"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("nope.yaml"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let out = Command::new(binary())
        .args(["config", "validate", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(binary()).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("serve") && help.contains("config"), "{help}");
}

#[test]
fn serve_refuses_an_invalid_file_naming_each_problem_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "domains:\n  - name: a.test\n    dkim_selectors: 5\n").unwrap();
    let out = Command::new(binary())
        .args(["serve", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problem = format!("{}:3:21: domains[0].dkim_selectors", path.display());
    assert_eq!(stderr.matches(&problem).count(), 1, "{stderr}");
}
