//! docs/findings.md documents exactly the codes in `FindingCode::ALL`: a code missing from the doc, a
//! section for a code that does not exist, or a code named in passing that does not exist fails here.

use std::collections::BTreeSet;

use senderscope::findings::{FindingCode, Severity};

const DOC: &str = include_str!("../../docs/findings.md");

/// `(check group, code, section text)` for every `### \`code\`` section, in order.
fn sections() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut group = String::new();
    let mut current: Option<(String, String, String)> = None;
    for line in DOC.lines() {
        if let Some(g) = line.strip_prefix("## ") {
            out.extend(current.take());
            group = g.trim().to_owned();
        } else if let Some(h) = line.strip_prefix("### ") {
            out.extend(current.take());
            let code = h
                .trim()
                .strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| panic!("code heading not in backticks: {line}"));
            current = Some((group.clone(), code.to_owned(), String::new()));
        } else if let Some((_, _, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out.extend(current);
    out
}

#[test]
fn every_code_is_documented_and_every_documented_code_exists() {
    let documented: Vec<String> = sections().into_iter().map(|(_, code, _)| code).collect();
    let known: BTreeSet<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    let unique: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), documented.len(), "a code is documented twice");
    let missing: Vec<&&str> = known.difference(&unique).collect();
    let unknown: Vec<&&str> = unique.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "codes not in docs/findings.md: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/findings.md documents codes that do not exist: {unknown:?}"
    );
}

#[test]
fn codes_are_grouped_by_check_with_meaning_severity_example_and_fix() {
    let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    for (group, code, text) in sections() {
        let prefix = code.split('.').next().unwrap();
        assert_eq!(group, prefix, "{code} is documented under `## {group}`");
        for field in ["**Severity:**", "**Meaning:**", "**Example:**", "**Fix:**"] {
            assert!(text.contains(field), "{code} has no {field}");
        }
        let severity = text
            .split("**Severity:**")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap();
        assert!(
            severities.contains(&severity),
            "{code}: severity starts with {severity:?}, not one of {severities:?}"
        );
        let example = text.split("**Example:**").nth(1).unwrap().trim_start();
        assert!(
            example.starts_with('"'),
            "{code}: the example is a quoted message"
        );
    }
}

#[test]
fn codes_named_in_passing_exist() {
    let known: BTreeSet<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    let checks: BTreeSet<&str> = known.iter().map(|c| c.split('.').next().unwrap()).collect();
    // Every `check.condition` in backticks whose first part is a check's name must be a real code.
    for (i, quoted) in DOC.split('`').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let Some((check, condition)) = quoted.split_once('.') else {
            continue;
        };
        let looks_like_code = checks.contains(check)
            && !condition.is_empty()
            && condition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if looks_like_code {
            assert!(
                known.contains(quoted),
                "docs/findings.md names `{quoted}`, which is no code"
            );
        }
    }
}
