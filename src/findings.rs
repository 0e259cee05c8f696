//! What a check found: severities, the stable finding codes, and per-check reports.
//!
//! Every code is documented in docs/findings.md; a test keeps that file and [`FindingCode::ALL`] in step.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::results::CheckId;

/// How bad a finding (or a check, or a domain) is. A check's status is its worst finding.
///
/// `Unknown` means "could not check" (a lookup failed): it is neither fine nor bad, but it ranks above
/// `Warning` because it may hide anything, and below `Critical`, which is known to be broken.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing to do.
    #[default]
    Ok,
    /// Worth knowing; no action needed.
    Info,
    /// Should be fixed; mail may be affected at some receivers.
    Warning,
    /// The check could not be completed (DNS failure, unreachable server).
    Unknown,
    /// Mail is (or will be) rejected, spoofable or unauthenticated.
    Critical,
}

impl Severity {
    /// Every severity, mildest first.
    pub const ALL: [Severity; 5] = [
        Severity::Ok,
        Severity::Info,
        Severity::Warning,
        Severity::Unknown,
        Severity::Critical,
    ];

    /// The lower-case name used in JSON, metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Unknown => "unknown",
            Severity::Critical => "critical",
        }
    }

    /// The value of `senderscope_check_status`: 0 ok, 1 info, 2 warning, 3 critical, -1 unknown.
    pub fn gauge_value(self) -> i64 {
        match self {
            Severity::Ok => 0,
            Severity::Info => 1,
            Severity::Warning => 2,
            Severity::Critical => 3,
            Severity::Unknown => -1,
        }
    }

    /// Monitoring-plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (info counts as OK).
    pub fn exit_code(self) -> u8 {
        match self {
            Severity::Ok | Severity::Info => 0,
            Severity::Warning => 1,
            Severity::Critical => 2,
            Severity::Unknown => 3,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! finding_codes {
    ($( $(#[$meta:meta])* $variant:ident => $code:literal, $summary:literal; )+) => {
        /// A stable, dotted finding code (`check.snake_case_condition`). Stable once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FindingCode {
            $( $(#[$meta])* #[doc = $summary] $variant, )+
        }

        impl FindingCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [FindingCode] = &[ $( FindingCode::$variant, )+ ];

            /// The dotted code, e.g. `spf.too_many_lookups`.
            pub fn as_str(self) -> &'static str {
                match self { $( FindingCode::$variant => $code, )+ }
            }

            /// One line saying what the condition is (used in docs and listings).
            pub fn summary(self) -> &'static str {
                match self { $( FindingCode::$variant => $summary, )+ }
            }
        }
    };
}

finding_codes! {
    SpfMissing => "spf.missing", "No SPF record (TXT starting with v=spf1) is published.";
    SpfMultipleRecords => "spf.multiple_records", "More than one SPF record is published: receivers return permerror.";
    SpfSyntaxError => "spf.syntax_error", "The SPF record does not follow the RFC 7208 grammar.";
    SpfTooManyLookups => "spf.too_many_lookups", "Evaluating SPF needs more than 10 DNS-querying terms (or an mx with more than 10 hosts).";
    SpfTooManyVoidLookups => "spf.too_many_void_lookups", "Evaluating SPF meets more than 2 lookups that return no data.";
    SpfPermissiveAll => "spf.permissive_all", "The record ends in +all: anyone may send as the domain.";
    SpfNeutralAll => "spf.neutral_all", "The record ends in ?all or has no all: unlisted senders are neutral, not failed.";
    SpfPtrMechanism => "spf.ptr_mechanism", "The record uses the ptr mechanism, which RFC 7208 says not to use.";
    SpfIncludeWithoutSpf => "spf.include_without_spf", "An include or redirect target publishes no SPF record.";
    SpfIncludeLoop => "spf.include_loop", "The include/redirect tree contains a loop.";
    SpfSendingIpNotAuthorized => "spf.sending_ip_not_authorized", "A configured sending IP does not get an SPF pass.";
    SpfStringTooLong => "spf.string_too_long", "A TXT character-string is longer than 255 bytes.";
    SpfRecordTooLong => "spf.record_too_long", "The SPF record is longer than 450 bytes and may not fit one UDP answer.";
    SpfTermsAfterAll => "spf.terms_after_all", "The SPF record has terms after all, which receivers never read.";
    SpfLookupFailed => "spf.lookup_failed", "A DNS lookup needed for SPF failed; SPF could not be checked.";

    DkimSelectorMissing => "dkim.selector_missing", "No DKIM key is published for a configured selector.";
    DkimSyntaxError => "dkim.syntax_error", "The DKIM key record is malformed.";
    DkimKeyRevoked => "dkim.key_revoked", "The DKIM key is revoked (empty p=).";
    DkimTestingMode => "dkim.testing_mode", "The DKIM key is in testing mode (t=y).";
    DkimWeakKey => "dkim.weak_key", "The RSA key is shorter than RFC 8301 requires (1024) or recommends (2048).";
    DkimSha1Only => "dkim.sha1_only", "The key only allows SHA-1 (h=sha1), which RFC 8301 forbids for signing.";
    DkimLookupFailed => "dkim.lookup_failed", "A DNS lookup needed for DKIM failed; the key could not be checked.";
    DkimNoSelectors => "dkim.no_selectors", "No DKIM selectors are configured, so no key was checked (selectors cannot be discovered through DNS).";
    DkimSelectorUnmonitored => "dkim.selector_unmonitored", "DMARC reports show a DKIM selector signing and verifying for the domain that is not configured; it is checked from now on.";

    DmarcMissing => "dmarc.missing", "No DMARC record is published for the domain or any parent.";
    DmarcMultipleRecords => "dmarc.multiple_records", "More than one DMARC record is published: receivers ignore them all.";
    DmarcSyntaxError => "dmarc.syntax_error", "The DMARC record is malformed.";
    DmarcPolicyNone => "dmarc.policy_none", "The DMARC policy is p=none: failing mail is delivered as usual.";
    DmarcSubdomainPolicyNone => "dmarc.subdomain_policy_none", "The subdomain policy is sp=none: subdomains can be spoofed.";
    DmarcTestingMode => "dmarc.testing_mode", "The DMARC record is in testing mode (t=y).";
    DmarcObsoleteTag => "dmarc.obsolete_tag", "The record uses tags removed by RFC 9989 (pct, rf, ri).";
    DmarcNoRua => "dmarc.no_rua", "No aggregate report address (rua): abuse of the domain goes unseen.";
    DmarcRuaNotAuthorized => "dmarc.rua_not_authorized", "An external report destination has not authorized reports for the domain.";
    DmarcPolicyNotSecond => "dmarc.policy_not_second", "The p= tag is not right after v=DMARC1, where RFC 7489 receivers expect it.";
    DmarcReportAddressUndeliverable => "dmarc.report_address_undeliverable", "A rua/ruf address is at a domain that cannot receive mail: reports are lost.";
    DmarcRecordAtApex => "dmarc.record_at_apex", "A DMARC record is published at the domain itself instead of _dmarc.";
    DmarcUnrelatedTxt => "dmarc.unrelated_txt", "Non-DMARC TXT records are published at _dmarc.";
    DmarcInherited => "dmarc.inherited", "The policy comes from a parent domain found by the DNS tree walk.";
    DmarcLookupFailed => "dmarc.lookup_failed", "A DNS lookup needed for DMARC failed; the policy could not be checked.";

    BulkSenderRequirements => "bulk_sender.requirements", "The domain lacks something the Google/Yahoo/Microsoft bulk-sender rules require.";

    MxMissing => "mx.missing", "The domain publishes no MX record.";
    MxNullMx => "mx.null_mx", "The domain publishes a null MX (RFC 7505): it accepts no mail.";
    MxTargetUnresolvable => "mx.target_unresolvable", "An MX host has no A or AAAA record.";
    MxCnameTarget => "mx.cname_target", "An MX host is a CNAME, which RFC 5321 forbids.";
    MxLookupFailed => "mx.lookup_failed", "A DNS lookup needed for MX failed.";

    PtrMissing => "ptr.missing", "A sending IP has no PTR record.";
    PtrFcrdnsMismatch => "ptr.fcrdns_mismatch", "A sending IP's PTR name does not resolve back to the IP.";
    PtrMultipleNames => "ptr.multiple_names", "A sending IP has several PTR names; some receivers look at only one.";
    PtrLookupFailed => "ptr.lookup_failed", "A DNS lookup needed for PTR/FCrDNS failed.";

    MtaStsMissing => "mta_sts.missing", "No MTA-STS record is published.";
    MtaStsSyntaxError => "mta_sts.syntax_error", "The MTA-STS record or policy file is malformed.";
    MtaStsPolicyUnreachable => "mta_sts.policy_unreachable", "The MTA-STS policy could not be fetched over HTTPS.";
    MtaStsTestingMode => "mta_sts.testing_mode", "The MTA-STS policy is in testing mode.";
    MtaStsMxNotCovered => "mta_sts.mx_not_covered", "An MX host is not matched by the MTA-STS policy.";
    MtaStsLookupFailed => "mta_sts.lookup_failed", "A DNS lookup needed for MTA-STS failed.";

    TlsRptMissing => "tls_rpt.missing", "No TLS-RPT record is published.";
    TlsRptSyntaxError => "tls_rpt.syntax_error", "The TLS-RPT record is malformed.";
    TlsRptLookupFailed => "tls_rpt.lookup_failed", "A DNS lookup needed for TLS-RPT failed.";

    BimiMissing => "bimi.missing", "No BIMI record is published.";
    BimiSyntaxError => "bimi.syntax_error", "The BIMI record is malformed.";
    BimiRequiresEnforcedDmarc => "bimi.requires_enforced_dmarc", "BIMI needs DMARC at quarantine or reject for all mail.";
    BimiLookupFailed => "bimi.lookup_failed", "A DNS lookup needed for BIMI failed.";

    RecordChanged => "record.changed", "A published record changed since the previous check.";

    BlocklistListed => "blocklist.listed", "A sending IP or domain is listed on a blocklist.";
    BlocklistQueryRefused => "blocklist.query_refused", "The blocklist refused our query (not a listing).";
    BlocklistLookupFailed => "blocklist.lookup_failed", "A blocklist query failed; the target could not be checked.";
    BlocklistZoneUnhealthy => "blocklist.zone_unhealthy", "A blocklist zone fails its RFC 5782 test points and is not trusted.";
    BlocklistRangeTruncated => "blocklist.range_truncated", "A configured IP range is larger than the expansion cap; only part is checked.";
    BlocklistPublicResolver => "blocklist.public_resolver", "Spamhaus refuses our resolver as public or unattributable (127.255.255.254): Spamhaus results are unknown.";
    BlocklistNotChecked => "blocklist.not_checked", "No configured zone can check this IP or domain (e.g. an IPv6 address with IPv4-only zones): its blocklist state is unknown, not clean.";
    BlocklistDelisted => "blocklist.delisted", "A listing ended: the IP or domain is no longer on the zone (shown for a week).";
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FindingCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One thing a check found, with a sentence a human can act on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable code, documented in docs/findings.md.
    pub code: FindingCode,
    /// How bad it is.
    pub severity: Severity,
    /// One sentence: what is wrong and how to fix it.
    pub message: String,
    /// Machine-readable facts behind the message (counts, trees, values).
    pub detail: serde_json::Value,
}

impl Finding {
    /// A finding without detail.
    pub fn new(code: FindingCode, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            message: message.into(),
            detail: serde_json::Value::Null,
        }
    }

    /// Attach machine-readable detail.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// The worst severity among findings (`Ok` when there are none).
pub fn worst(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// The result of one check on one domain (or of one IP-scoped check on one IP).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The domain (or IP, for IP-scoped checks) checked.
    pub target: String,
    /// Which check.
    pub check: CheckId,
    /// Worst finding.
    pub status: Severity,
    /// The record(s) the check read, as published (several joined by newlines).
    pub record: Option<String>,
    /// What was found.
    pub findings: Vec<Finding>,
    /// When the check ran (unix seconds).
    pub checked_at: i64,
    /// How long it took.
    #[serde(serialize_with = "serialize_seconds")]
    pub duration: Duration,
}

fn serialize_seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_dotted() {
        let mut seen = std::collections::HashSet::new();
        for code in FindingCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            let (check, condition) = code.as_str().split_once('.').expect("dotted");
            assert!(!check.is_empty() && !condition.is_empty());
            assert!(
                code.as_str()
                    .chars()
                    // Digits too: `dkim.sha1_only`.
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'),
                "{code} is not snake_case"
            );
        }
    }

    #[test]
    fn unknown_ranks_between_warning_and_critical() {
        assert!(Severity::Warning < Severity::Unknown);
        assert!(Severity::Unknown < Severity::Critical);
        assert_eq!(
            worst(&[
                Finding::new(FindingCode::SpfNeutralAll, Severity::Warning, "w"),
                Finding::new(FindingCode::SpfLookupFailed, Severity::Unknown, "u"),
            ]),
            Severity::Unknown
        );
    }
}
