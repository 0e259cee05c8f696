//! The MTA-STS policy file (RFC 8461 §3.2) and MX matching (§4.1).
//!
//! ```text
//! sts-policy-record        = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
//! sts-policy-field-delim   = ":" *WSP
//! sts-policy-version-value = %s"STSv1"
//! sts-policy-mode-value    = %s"testing" / %s"enforce" / %s"none"
//! sts-policy-mx-value      = ["*."] Domain
//! sts-policy-max-age-value = 1*10(DIGIT)          ; at most 31557600
//! sts-policy-term          = LF / CRLF
//! ```
//! Unknown fields are ignored by senders ("implementing a superset of this specification"); we name them.

use crate::checks::tag_list::{is_extension_name, is_host_name, is_wsp};

/// RFC 8461 §3.2: max_age "MUST be less than or equal to 31557600" (about one year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// How senders apply the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse delivery to MX hosts that don't match or fail TLS.
    Enforce,
    /// Deliver anyway, but report failures (TLS-RPT).
    Testing,
    /// The policy is being withdrawn (RFC 8461 §8.3).
    None,
}

impl Mode {
    /// The value as written in the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A valid policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `mode`.
    pub mode: Mode,
    /// `max_age`, seconds.
    pub max_age: u64,
    /// `mx` patterns, lower-case, without a trailing dot.
    pub mx: Vec<String>,
    /// Field names senders ignore.
    pub unknown_keys: Vec<String>,
}

/// Parse a policy body; every problem is reported (line numbers from 1), not just the first.
pub fn parse(body: &[u8]) -> Result<Policy, Vec<String>> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(vec!["the policy is not UTF-8 text".to_owned()]);
    };
    let mut problems = Vec::new();
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    let mut unknown_keys = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let n = n + 1;
        // sts-policy-term is LF or CRLF.
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_matches(is_wsp).is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            problems.push(format!("line {n} is not \"key: value\": {line:?}"));
            continue;
        };
        let value = value.trim_matches(is_wsp);
        let once = |slot: &mut Option<String>, problems: &mut Vec<String>| {
            if slot.is_some() {
                problems.push(format!("line {n}: {key} appears more than once"));
            } else {
                *slot = Some(value.to_owned());
            }
        };
        match key {
            "version" => once(&mut version, &mut problems),
            "mode" => once(&mut mode, &mut problems),
            "max_age" => once(&mut max_age, &mut problems),
            "mx" => {
                let pattern = value.trim_end_matches('.').to_ascii_lowercase();
                if is_host_name(pattern.strip_prefix("*.").unwrap_or(&pattern)) {
                    mx.push(pattern);
                } else {
                    problems.push(format!(
                        "line {n}: mx {value:?} is not a host name or a \"*.\" pattern"
                    ));
                }
            }
            key if is_extension_name(key) => unknown_keys.push(key.to_owned()),
            key => problems.push(format!("line {n}: {key:?} is not a valid field name")),
        }
    }
    match version.as_deref() {
        Some("STSv1") => {}
        Some(v) => problems.push(format!("version is {v:?}, not STSv1")),
        None => problems.push("the version field (STSv1) is missing".to_owned()),
    }
    let mode = match mode.as_deref() {
        Some("enforce") => Some(Mode::Enforce),
        Some("testing") => Some(Mode::Testing),
        Some("none") => Some(Mode::None),
        Some(m) => {
            problems.push(format!("mode {m:?} is not enforce, testing or none"));
            None
        }
        None => {
            problems.push("the mode field is missing".to_owned());
            None
        }
    };
    let max_age = match max_age.as_deref() {
        Some(v) if (1..=10).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) => {
            let seconds: u64 = v.parse().unwrap_or(u64::MAX);
            if seconds > MAX_AGE_LIMIT {
                problems.push(format!(
                    "max_age {seconds} is over the limit of {MAX_AGE_LIMIT}"
                ));
            }
            Some(seconds)
        }
        Some(v) => {
            problems.push(format!("max_age {v:?} is not a number of seconds"));
            None
        }
        None => {
            problems.push("the max_age field is missing".to_owned());
            None
        }
    };
    // RFC 8461 §3.2: a policy that senders apply lists "one or more" mx patterns.
    if matches!(mode, Some(Mode::Enforce | Mode::Testing)) && mx.is_empty() {
        problems.push("mode enforce/testing needs at least one mx line".to_owned());
    }
    match (mode, max_age) {
        (Some(mode), Some(max_age)) if problems.is_empty() => Ok(Policy {
            mode,
            max_age,
            mx,
            unknown_keys,
        }),
        _ => Err(problems),
    }
}

/// RFC 8461 §4.1: an MX host matches a pattern when equal (case-insensitively), or when the pattern is
/// `*.rest` and the host is one more label in front of `rest` ("*.example.com" matches
/// "mx.example.com" but neither "example.com" nor "a.b.example.com").
pub fn matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, parent)| !label.is_empty() && parent == rest),
        None => host == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crlf_policy_with_wildcards_parses() {
        let p = parse(
            b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.Example.net.\r\nmax_age: 604800\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604800);
        assert_eq!(p.mx, vec!["mx1.example.com", "*.example.net"]);
    }

    #[test]
    fn lf_only_and_unknown_fields_are_accepted() {
        let p =
            parse(b"version: STSv1\nmode: testing\nmx: a.test\nmax_age: 0\nx-note: hello world")
                .unwrap();
        assert_eq!(p.mode, Mode::Testing);
        assert_eq!(p.unknown_keys, vec!["x-note"]);
    }

    #[test]
    fn mode_none_needs_no_mx() {
        assert_eq!(
            parse(b"version: STSv1\nmode: none\nmax_age: 86400\n")
                .unwrap()
                .mode,
            Mode::None
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let e = parse(
            b"version: STSv2\nmode: enforced\nmax_age: 99999999\nmx: bad_host.test\nmode: none\n",
        )
        .unwrap_err();
        let all = e.join("\n");
        assert!(all.contains("version is \"STSv2\""), "{all}");
        assert!(all.contains("mode appears more than once"), "{all}");
        assert!(all.contains("mode \"enforced\""), "{all}");
        assert!(all.contains("max_age 99999999 is over the limit"), "{all}");
        assert!(all.contains("mx \"bad_host.test\""), "{all}");
    }

    #[test]
    fn missing_fields_and_html_are_errors() {
        let e = parse(b"mode: enforce\n").unwrap_err().join("\n");
        assert!(e.contains("version field"), "{e}");
        assert!(e.contains("max_age field"), "{e}");
        assert!(e.contains("at least one mx"), "{e}");
        assert!(parse(b"<html><body>It works!</body></html>").is_err());
        assert!(parse(&[0xff, 0xfe]).is_err());
        assert!(
            parse(b"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901\n").is_err()
        );
    }

    #[test]
    fn rfc_8461_section_4_1_wildcards_cover_one_label() {
        assert!(matches("mx.example.com", "MX.example.com."));
        assert!(matches("*.example.com", "mx1.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", "a.b.example.com"));
        assert!(!matches("mx.example.com", "mx2.example.com"));
    }
}
