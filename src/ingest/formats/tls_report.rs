//! SMTP TLS reports (RFC 8460 §4), read leniently from JSON: `mx-host` as a string or a list (the
//! RFC's own example sends a string), `contact-info: null`, a `no-policy-found` policy without a
//! domain, failure details without the sending or receiving host, free-text reason codes. Only the
//! report id, the organization, the date range and a `policies` list are required.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ingest::error::IngestError;
use crate::ingest::warnings::Warnings;

/// Policies per report kept (a report lists one per policy domain and MX).
const MAX_POLICIES: usize = 10_000;
/// Failure details per policy kept.
const MAX_DETAILS: usize = 10_000;

/// One TLS report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TlsReport {
    /// `organization-name`.
    pub organization: String,
    /// `report-id`.
    pub report_id: String,
    /// `contact-info`.
    pub contact_info: Option<String>,
    /// `date-range.start-datetime`, Unix seconds.
    pub begin: i64,
    /// `date-range.end-datetime`, Unix seconds.
    pub end: i64,
    /// `policies`.
    pub policies: Vec<TlsPolicy>,
}

/// One entry of `policies`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TlsPolicy {
    /// `policy-type`: `sts`, `tlsa` or `no-policy-found`.
    pub policy_type: String,
    /// `policy-domain` (absent in some `no-policy-found` entries).
    pub policy_domain: Option<String>,
    /// `mx-host`, one or many.
    pub mx_hosts: Vec<String>,
    /// `summary.total-successful-session-count`.
    pub successful_sessions: u64,
    /// `summary.total-failure-session-count`.
    pub failed_sessions: u64,
    /// `failure-details`.
    pub failures: Vec<TlsFailure>,
}

/// One entry of `failure-details`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TlsFailure {
    /// `result-type` (`certificate-expired`, `starttls-not-supported`, …).
    pub result_type: String,
    /// `sending-mta-ip`.
    pub sending_mta_ip: Option<String>,
    /// `receiving-mx-hostname`.
    pub receiving_mx_hostname: Option<String>,
    /// `receiving-ip`.
    pub receiving_ip: Option<String>,
    /// `failed-session-count`.
    pub failed_sessions: u64,
    /// `failure-reason-code` (free text in practice).
    pub failure_reason_code: Option<String>,
    /// `additional-information`.
    pub additional_information: Option<String>,
}

impl TlsReport {
    /// The policy domain the report is mostly about (the first named one), for keys and labels.
    pub fn policy_domain(&self) -> Option<&str> {
        self.policies
            .iter()
            .find_map(|p| p.policy_domain.as_deref())
    }

    /// Sessions that negotiated TLS, over every policy.
    pub fn successful_sessions(&self) -> u64 {
        self.policies.iter().map(|p| p.successful_sessions).sum()
    }

    /// Sessions that failed, over every policy.
    pub fn failed_sessions(&self) -> u64 {
        self.policies.iter().map(|p| p.failed_sessions).sum()
    }
}

/// Parse a TLS report; `warnings` gets what was tolerated.
pub fn parse(bytes: &[u8], warnings: &mut Warnings) -> Result<TlsReport, IngestError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        IngestError::Malformed(format!(
            "TLS report JSON, line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(root) = value else {
        return Err(IngestError::NotAReport(
            "JSON that is not an object: not a TLS report".into(),
        ));
    };
    if !root.contains_key("policies") && !root.contains_key("report-id") {
        return Err(IngestError::NotAReport(
            "JSON without \"report-id\" or \"policies\": not a TLS report (RFC 8460)".into(),
        ));
    }
    let required = |key: &str| {
        text(&root, key).ok_or_else(|| {
            IngestError::Malformed(format!("TLS report: \"{key}\" is missing or empty"))
        })
    };
    let report_id = required("report-id")?;
    let organization = required("organization-name")?;
    let range = root
        .get("date-range")
        .and_then(Value::as_object)
        .ok_or_else(|| IngestError::Malformed("TLS report: \"date-range\" is missing".into()))?;
    let begin = datetime(range, "start-datetime")?;
    let end = datetime(range, "end-datetime")?;
    let policies = root
        .get("policies")
        .and_then(Value::as_array)
        .ok_or_else(|| IngestError::Malformed("TLS report: \"policies\" is not a list".into()))?;
    if policies.len() > MAX_POLICIES {
        return Err(IngestError::TooLarge {
            what: "TLS report policy count",
            limit: MAX_POLICIES as u64,
        });
    }
    let policies = policies
        .iter()
        .enumerate()
        .map(|(i, p)| policy(i, p, warnings))
        .collect::<Result<_, _>>()?;
    Ok(TlsReport {
        organization,
        report_id,
        contact_info: text(&root, "contact-info"),
        begin,
        end,
        policies,
    })
}

fn policy(i: usize, value: &Value, warnings: &mut Warnings) -> Result<TlsPolicy, IngestError> {
    let malformed =
        |what: &str| IngestError::Malformed(format!("TLS report: policies[{i}]: {what}"));
    let entry = value
        .as_object()
        .ok_or_else(|| malformed("not an object"))?;
    let empty = Map::new();
    let policy = entry
        .get("policy")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let summary = entry
        .get("summary")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("\"summary\" is missing"))?;
    let policy_type = text(policy, "policy-type").unwrap_or_else(|| {
        warnings.push(format!("policies[{i}]: no policy-type"));
        "unknown".into()
    });
    let mx_hosts = match policy.get("mx-host") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let details = entry
        .get("failure-details")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if details.len() > MAX_DETAILS {
        return Err(IngestError::TooLarge {
            what: "TLS report failure details",
            limit: MAX_DETAILS as u64,
        });
    }
    let failures = details
        .iter()
        .filter_map(Value::as_object)
        .map(|d| TlsFailure {
            result_type: text(d, "result-type").unwrap_or_else(|| "unknown".into()),
            sending_mta_ip: text(d, "sending-mta-ip"),
            receiving_mx_hostname: text(d, "receiving-mx-hostname"),
            receiving_ip: text(d, "receiving-ip"),
            failed_sessions: count(d, "failed-session-count").unwrap_or(0),
            failure_reason_code: text(d, "failure-reason-code"),
            additional_information: text(d, "additional-information"),
        })
        .collect();
    Ok(TlsPolicy {
        policy_type: policy_type.to_ascii_lowercase(),
        policy_domain: text(policy, "policy-domain").map(|d| d.to_ascii_lowercase()),
        mx_hosts,
        successful_sessions: count(summary, "total-successful-session-count")
            .ok_or_else(|| malformed("summary.total-successful-session-count is not a count"))?,
        failed_sessions: count(summary, "total-failure-session-count")
            .ok_or_else(|| malformed("summary.total-failure-session-count is not a count"))?,
        failures,
    })
}

/// A non-empty string field.
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// A count, also when sent as a string of digits.
fn count(map: &Map<String, Value>, key: &str) -> Option<u64> {
    match map.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An RFC 3339 date-time (RFC 8460 §4.4).
fn datetime(map: &Map<String, Value>, key: &str) -> Result<i64, IngestError> {
    let raw = text(map, key).ok_or_else(|| {
        IngestError::Malformed(format!("TLS report: date-range.{key} is missing"))
    })?;
    OffsetDateTime::parse(&raw, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| {
            IngestError::Malformed(format!(
                "TLS report: date-range.{key} {raw:?} is not an RFC 3339 date-time: {e}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_host_as_a_string_and_null_contact_info_are_read() {
        let json = br#"{"organization-name":"X","report-id":"r1","contact-info":null,
            "date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},
            "policies":[{"policy":{"policy-type":"sts","policy-domain":"Y.example","mx-host":"*.y.example"},
              "summary":{"total-successful-session-count":5,"total-failure-session-count":1},
              "failure-details":[{"result-type":"certificate-expired","failed-session-count":1}]},
             {"policy":{"policy-type":"no-policy-found"},
              "summary":{"total-successful-session-count":2,"total-failure-session-count":0}}]}"#;
        let mut w = Warnings::default();
        let r = parse(json, &mut w).unwrap();
        assert_eq!(r.contact_info, None);
        assert_eq!(r.policies[0].mx_hosts, vec!["*.y.example".to_owned()]);
        assert_eq!(r.policy_domain(), Some("y.example"));
        assert_eq!(r.policies[1].policy_domain, None);
        assert_eq!((r.successful_sessions(), r.failed_sessions()), (7, 1));
        assert_eq!(r.begin, 1_459_468_800);
    }

    #[test]
    fn json_that_is_not_a_report_is_named() {
        let err = parse(br#"{"hello":1}"#, &mut Warnings::default()).unwrap_err();
        assert_eq!(err.reason(), "not_a_report");
        let err = parse(
            br#"{"report-id":"x","policies":[]}"#,
            &mut Warnings::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("organization-name"), "{err}");
    }
}
