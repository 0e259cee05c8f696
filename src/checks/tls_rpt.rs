//! TLS-RPT check (RFC 8460): the `_smtp._tls.<domain>` record that tells senders where to report
//! SMTP TLS failures (MTA-STS and DANE problems).
//!
//! TLS-RPT is optional hardening, so:
//! - `tls_rpt.missing`: no TXT record at all. Info.
//! - `tls_rpt.syntax_error`: several records, none starting with `v=TLSRPTv1`, no or a bad `rua`, a
//!   malformed field. Warning: senders treat the domain as not implementing TLS-RPT (RFC 8460 §3). An
//!   unknown but well-formed extension field is Info: senders ignore it, and it may be a typo.
//! - `tls_rpt.lookup_failed`: the lookup failed. Unknown.

use serde_json::json;

use super::tag_list::{self, is_extension_name, is_extension_value, is_host_name};
use super::{DomainContext, Outcome};
use crate::findings::{Finding, FindingCode, Severity};

/// RFC 8460 §3: `tlsrpt-version = %s"v=TLSRPTv1"`.
const VERSION: &str = "v=TLSRPTv1";

/// Run the tls_rpt check.
pub async fn check(cx: &DomainContext) -> Outcome {
    let name = format!("_smtp._tls.{}", cx.domain);
    let answer = match cx.dns.txt(&name).await {
        Ok(a) => a,
        Err(e) => {
            return Outcome {
                findings: vec![super::lookup_failed(
                    FindingCode::TlsRptLookupFailed,
                    &name,
                    &e,
                    "TLS-RPT could not be checked",
                )],
                ..Outcome::default()
            };
        }
    };
    let texts: Vec<String> = answer.records().iter().map(|t| t.joined()).collect();
    if texts.is_empty() {
        return Outcome {
            findings: vec![Finding::new(
                FindingCode::TlsRptMissing,
                Severity::Info,
                format!(
                    "No TLS-RPT record at {name}: senders cannot tell you when TLS to your MX fails. Optional: \
                     publish \"v=TLSRPTv1; rua=mailto:tls-reports@{}\".",
                    cx.domain
                ),
            )],
            ..Outcome::default()
        };
    }
    // RFC 8460 §3: records not starting with v=TLSRPTv1 are discarded; if not exactly one remains, the
    // sender "MUST assume the recipient domain does not implement TLSRPT".
    let records: Vec<&String> = texts.iter().filter(|t| t.starts_with(VERSION)).collect();
    let mut outcome = Outcome {
        record: Some(texts.join("\n")),
        ..Outcome::default()
    };
    let syntax =
        |severity, message: String| Finding::new(FindingCode::TlsRptSyntaxError, severity, message);
    match records.as_slice() {
        [] => outcome.findings.push(syntax(
            Severity::Warning,
            format!(
                "No TXT record at {name} starts with {VERSION}, so senders ignore them: {}.",
                texts.join(" | ")
            ),
        )),
        [record] => match parse(record) {
            Ok(parsed) => {
                if !parsed.unknown_fields.is_empty() {
                    outcome.findings.push(syntax(
                        Severity::Info,
                        format!(
                            "The TLS-RPT record at {name} has fields senders ignore (RFC 8460 §3): {}.",
                            parsed.unknown_fields.join(", ")
                        ),
                    ));
                }
            }
            Err(problems) => outcome.findings.push(
                syntax(
                    Severity::Warning,
                    format!(
                        "The TLS-RPT record at {name} is malformed ({}); senders ignore it.",
                        problems.join("; ")
                    ),
                )
                .with_detail(json!({"problems": problems})),
            ),
        },
        several => outcome.findings.push(
            syntax(
                Severity::Warning,
                format!(
                    "{} TLS-RPT records at {name}: senders use none of them (RFC 8460 §3). Keep exactly one.",
                    several.len()
                ),
            )
            .with_detail(json!({"records": several})),
        ),
    }
    outcome
}

/// A valid TLS-RPT record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    /// The report destinations.
    rua: Vec<String>,
    /// Well-formed extension fields senders ignore.
    unknown_fields: Vec<String>,
}

/// Parse a record against RFC 8460 §3:
/// `tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]`,
/// `tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)`.
fn parse(record: &str) -> Result<Record, Vec<String>> {
    let tags = tag_list::split(record).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    match tags.first() {
        Some(t) if t.name == "v" && t.value == "TLSRPTv1" => {}
        _ => problems.push(format!("it must start with {VERSION}")),
    }
    let mut parsed = Record {
        rua: Vec::new(),
        unknown_fields: Vec::new(),
    };
    let mut seen_rua = false;
    for tag in tags.iter().skip(1) {
        match tag.name {
            "rua" if seen_rua => problems.push("rua= appears twice".to_owned()),
            "rua" => {
                seen_rua = true;
                for uri in tag
                    .value
                    .split(',')
                    .map(|u| u.trim_matches(tag_list::is_wsp))
                {
                    match report_uri(uri) {
                        Ok(()) => parsed.rua.push(uri.to_owned()),
                        Err(why) => problems.push(format!("rua destination {uri:?} {why}")),
                    }
                }
            }
            "v" => problems.push("v= appears twice".to_owned()),
            name if is_extension_name(name) && is_extension_value(tag.value) => {
                parsed.unknown_fields.push(name.to_owned());
            }
            name => problems.push(format!("field {name}={} is not valid", tag.value)),
        }
    }
    if !seen_rua {
        problems.push("the required rua= field is missing".to_owned());
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems)
    }
}

/// RFC 8460 §3: `rua` URIs are `mailto:` (reports by mail) or `https:` (reports POSTed).
fn report_uri(uri: &str) -> Result<(), &'static str> {
    if uri.is_empty() {
        return Err("is empty");
    }
    if uri.chars().any(|c| c.is_whitespace() || c == ';') {
        return Err("contains whitespace");
    }
    if let Some(address) = uri.strip_prefix("mailto:") {
        let address = address.split('?').next().unwrap_or("");
        return match address.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && is_host_name(domain) => Ok(()),
            _ => Err("is not a valid mailto: address"),
        };
    }
    if let Some(rest) = uri.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _port)| h);
        return if is_host_name(host) {
            Ok(())
        } else {
            Err("is not a valid https: URL")
        };
    }
    Err("is neither mailto: nor https: (RFC 8460 §3)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::{self, codes};

    async fn run(zone: &str) -> Outcome {
        test_support::run(check, zone, "d.test").await
    }

    #[tokio::test]
    async fn a_valid_record_has_no_findings() {
        let o =
            run("_smtp._tls.d.test TXT \"v=TLSRPTv1; rua=mailto:tls@d.test, https://r.d.test/v1\"")
                .await;
        assert!(o.findings.is_empty(), "{:?}", o.findings);
        assert!(o.record.unwrap().starts_with("v=TLSRPTv1"));
    }

    #[tokio::test]
    async fn missing_is_info_and_failure_is_unknown() {
        assert_eq!(
            codes(&run("d.test TXT x").await),
            vec![(FindingCode::TlsRptMissing, Severity::Info)]
        );
        let o = run("_smtp._tls.d.test TIMEOUT").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::TlsRptLookupFailed, Severity::Unknown)]
        );
        assert_eq!(
            o.findings[0].message,
            "Could not look up _smtp._tls.d.test: no answer from the resolver (timed out). \
             TLS-RPT could not be checked; check the resolver."
        );
        assert_eq!(o.findings[0].detail, json!({"error": "timeout"}));
    }

    #[tokio::test]
    async fn several_records_or_none_with_the_version_are_syntax_errors() {
        let o = run(
            "_smtp._tls.d.test TXT \"v=TLSRPTv1; rua=mailto:a@d.test\"\n\
             _smtp._tls.d.test TXT \"v=TLSRPTv1; rua=mailto:b@d.test\"",
        )
        .await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::TlsRptSyntaxError, Severity::Warning)]
        );
        assert!(o.findings[0].message.contains("2 TLS-RPT records"));
        let o = run("_smtp._tls.d.test TXT \"rua=mailto:a@d.test; v=TLSRPTv1\"").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::TlsRptSyntaxError, Severity::Warning)]
        );
    }

    #[test]
    fn rfc_8460_record_grammar() {
        assert_eq!(
            parse("v=TLSRPTv1;rua=mailto:a@d.test").unwrap().rua,
            vec!["mailto:a@d.test".to_owned()]
        );
        let e = parse("v=TLSRPTv1").unwrap_err();
        assert!(e[0].contains("rua= field is missing"));
        let e = parse("v=TLSRPTv1; rua=ftp://d.test/x").unwrap_err();
        assert!(e[0].contains("neither mailto: nor https:"), "{e:?}");
        let e = parse("v=TLSRPTv1; rua=mailto:nobody").unwrap_err();
        assert!(e[0].contains("not a valid mailto:"));
        let e = parse("v=TLSRPTv1; rua=mailto:a@d.test; rua=mailto:b@d.test").unwrap_err();
        assert!(e[0].contains("twice"));
        let e = parse("v=TLSRPTv1; rua=mailto:a@d.test;; x=1").unwrap_err();
        assert!(e[0].contains("empty field"));
        assert_eq!(
            parse("v=TLSRPTv1; rua=mailto:a@d.test; ruf=x")
                .unwrap()
                .unknown_fields,
            vec!["ruf".to_owned()]
        );
        assert!(parse("v=TLSRPTv1; rua=mailto:a@d.test; x=a b").is_err());
    }
}
