//! DMARC failure reports (RFC 9991; ARF, RFC 6591 and RFC 5965): the `message/feedback-report` part
//! of a `Feedback-Type: auth-failure` report, or the plain-text variant Exim and cPanel send ("A
//! message claiming to be from you has failed the published DMARC policy…") without an ARF part.

use std::net::IpAddr;

use serde::Serialize;

use crate::ingest::error::IngestError;

/// The sentence that opens Exim's plain-text failure report.
pub const EXIM_MARKER: &str = "has failed the published DMARC policy";

/// Fields kept per header (an `Authentication-Results` can be long, a hostile one longer).
const MAX_FIELD: usize = 2048;

/// How the report was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureFormat {
    /// An ARF `message/feedback-report` part.
    Arf,
    /// Exim's plain-text report.
    PlainText,
}

/// One DMARC failure report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureReport {
    /// How it was written.
    pub format: FailureFormat,
    /// `Auth-Failure` (`dmarc`, `dkim`, `spf`, …).
    pub auth_failure: Option<String>,
    /// `Reported-Domain` (or Exim's "Sender Domain").
    pub reported_domain: Option<String>,
    /// `Source-IP` (a trailing "(host)" is dropped).
    pub source_ip: Option<IpAddr>,
    /// `Arrival-Date` as written.
    pub arrival_date: Option<String>,
    /// `Original-Mail-From`.
    pub original_mail_from: Option<String>,
    /// `Original-Rcpt-To`.
    pub original_rcpt_to: Option<String>,
    /// `Delivery-Result`.
    pub delivery_result: Option<String>,
    /// `Authentication-Results` as reported.
    pub authentication_results: Option<String>,
    /// `DKIM-Domain`.
    pub dkim_domain: Option<String>,
    /// `Identity-Alignment`.
    pub identity_alignment: Option<String>,
    /// `User-Agent` of the reporter.
    pub user_agent: Option<String>,
    /// The reporting message's `From` address.
    pub reporter: Option<String>,
}

impl FailureReport {
    /// The fields that identify one failure (for the duplicate key): reporter, domain, source,
    /// arrival and recipient. parsedmarc keys on arrival date, From, To and Subject.
    pub fn identity(&self) -> String {
        let f = |o: &Option<String>| o.clone().unwrap_or_default();
        format!(
            "{}|{}|{}|{}|{}",
            f(&self.reporter),
            f(&self.reported_domain),
            self.source_ip.map(|i| i.to_string()).unwrap_or_default(),
            f(&self.arrival_date),
            f(&self.original_rcpt_to)
        )
    }
}

/// The `Feedback-Type` of a `message/feedback-report` body (RFC 5965 §3.1), lower-cased.
pub fn feedback_type(fields: &[u8]) -> Option<String> {
    field_block(fields)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("feedback-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
}

/// Read an `auth-failure` report from its feedback part; `reporter` is the message's From.
pub fn parse_arf(fields: &[u8], reporter: Option<String>) -> Result<FailureReport, IngestError> {
    let block = field_block(fields);
    let get = |name: &str| {
        block
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let kind = get("feedback-type").unwrap_or_default();
    if !kind.eq_ignore_ascii_case("auth-failure") {
        return Err(IngestError::NotAReport(format!(
            "an ARF report of feedback type {kind:?}, not auth-failure"
        )));
    }
    Ok(FailureReport {
        format: FailureFormat::Arf,
        auth_failure: get("auth-failure").map(|v| v.to_ascii_lowercase()),
        reported_domain: get("reported-domain").map(|v| v.to_ascii_lowercase()),
        source_ip: get("source-ip").as_deref().and_then(ip_of),
        arrival_date: get("arrival-date").or_else(|| get("received-date")),
        original_mail_from: get("original-mail-from"),
        original_rcpt_to: get("original-rcpt-to"),
        delivery_result: get("delivery-result").map(|v| v.to_ascii_lowercase()),
        authentication_results: get("authentication-results"),
        dkim_domain: get("dkim-domain").map(|v| v.to_ascii_lowercase()),
        identity_alignment: get("identity-alignment"),
        user_agent: get("user-agent"),
        reporter,
    })
}

/// Read Exim's plain-text report ("Sender Domain: …", "Sender IP Address: …", "Received date: …").
pub fn parse_plain_text(
    text: &str,
    reporter: Option<String>,
) -> Result<FailureReport, IngestError> {
    let get = |label: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.trim().split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(label)
                .then(|| clip(v.trim()))
                .filter(|v| !v.is_empty())
        })
    };
    let reported_domain = get("Sender Domain").map(|v| v.to_ascii_lowercase());
    if reported_domain.is_none() {
        return Err(IngestError::Malformed(
            "a plain-text DMARC failure report without a \"Sender Domain:\" line".into(),
        ));
    }
    Ok(FailureReport {
        format: FailureFormat::PlainText,
        auth_failure: Some("dmarc".into()),
        reported_domain,
        source_ip: get("Sender IP Address").as_deref().and_then(ip_of),
        arrival_date: get("Received date"),
        original_mail_from: None,
        original_rcpt_to: None,
        delivery_result: None,
        authentication_results: get("DMARC Results"),
        dkim_domain: None,
        identity_alignment: None,
        user_agent: None,
        reporter,
    })
}

/// `1.2.3.4`, `1.2.3.4 (host.example)` or `[1.2.3.4]`.
fn ip_of(value: &str) -> Option<IpAddr> {
    let first = value.split_whitespace().next()?;
    first
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

fn clip(value: &str) -> String {
    value.chars().take(MAX_FIELD).collect()
}

/// `Name: value` fields with folded continuation lines (RFC 5322 §2.2.3), CRLF or LF.
fn field_block(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines().take(500) {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut()
                && value.len() < MAX_FIELD
            {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), clip(value.trim())));
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arf_fields_are_read_with_folding_and_a_host_after_the_ip() {
        let body = b"Feedback-Type: auth-failure\r\nSource-IP: 192.0.2.1 (mx.example)\r\nReported-Domain: Example.COM\r\nAuthentication-Results: mx;\r\n\tdmarc=fail\r\nAuth-Failure: dmarc\r\n";
        let r = parse_arf(body, None).unwrap();
        assert_eq!(r.source_ip, "192.0.2.1".parse().ok());
        assert_eq!(r.reported_domain.as_deref(), Some("example.com"));
        assert_eq!(r.authentication_results.as_deref(), Some("mx; dmarc=fail"));
        assert_eq!(feedback_type(body).as_deref(), Some("auth-failure"));
    }

    #[test]
    fn an_abuse_report_is_not_a_failure_report() {
        let err = parse_arf(b"Feedback-Type: abuse\n", None).unwrap_err();
        assert_eq!(err.reason(), "not_a_report");
    }
}
