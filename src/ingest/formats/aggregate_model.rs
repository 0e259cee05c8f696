//! The typed DMARC aggregate report (RFC 7489 appendix C and RFC 9990 in one model): the metadata and
//! published policy of a report, and one [`AggregateRecord`] per `<record>`.
//!
//! Result values are lower-cased before matching (reporters send `Pass`), and a value outside the
//! schema's enumeration becomes `Other` with a counted warning, never a silent default.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// `<report_metadata>` and `<policy_published>`: what identifies a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AggregateMeta {
    /// The XML namespace of `<feedback>` (RFC 9990: `urn:ietf:params:xml:ns:dmarc-2.0`), if any.
    pub namespace: Option<String>,
    /// `<version>` as sent.
    pub version: Option<String>,
    /// `<org_name>`.
    pub org_name: String,
    /// `<email>`.
    pub email: Option<String>,
    /// `<extra_contact_info>`.
    pub extra_contact_info: Option<String>,
    /// `<report_id>`.
    pub report_id: String,
    /// `<date_range><begin>`, Unix seconds (fractions cut).
    pub begin: i64,
    /// `<date_range><end>`, Unix seconds.
    pub end: i64,
    /// `<generator>` (RFC 9990).
    pub generator: Option<String>,
    /// `<error>` elements (bounded).
    pub errors: Vec<String>,
    /// `<policy_published>`.
    pub policy: PolicyPublished,
}

/// `<policy_published>`. Every field but `domain` is optional in practice.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolicyPublished {
    /// The policy domain the report is about.
    pub domain: String,
    /// `adkim` (`r` or `s`).
    pub adkim: Option<String>,
    /// `aspf` (`r` or `s`).
    pub aspf: Option<String>,
    /// `p`.
    pub p: Option<String>,
    /// `sp`.
    pub sp: Option<String>,
    /// `np` (RFC 9990; also in some RFC 7489-era reports).
    pub np: Option<String>,
    /// `pct` (RFC 7489 only; RFC 9990 removed it).
    pub pct: Option<u8>,
    /// `testing` (RFC 9990).
    pub testing: Option<String>,
    /// `discovery_method` (RFC 9990: `psl` or `treewalk`).
    pub discovery_method: Option<String>,
    /// `fo`.
    pub fo: Option<String>,
}

impl AggregateMeta {
    /// The reporter used in the duplicate key and metric labels: `org_name`, or the domain of `email`
    /// when the reporter left `org_name` empty.
    pub fn reporter(&self) -> String {
        let org = self.org_name.trim();
        if !org.is_empty() {
            return org.to_ascii_lowercase();
        }
        self.email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.trim_end_matches('>').trim().to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// One `<record>`: a source IP and what happened to its messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateRecord {
    /// `<source_ip>`; IPv6 kept in its canonical (RFC 5952) text form when stored.
    pub source_ip: IpAddr,
    /// `<count>`: messages from this source with these results.
    pub count: u64,
    /// `<policy_evaluated><disposition>`.
    pub disposition: Disposition,
    /// `<policy_evaluated><dkim>`: DKIM aligned pass or not.
    pub dkim_aligned: PolicyResult,
    /// `<policy_evaluated><spf>`: SPF aligned pass or not.
    pub spf_aligned: PolicyResult,
    /// `<policy_evaluated><reason>` elements (override reasons).
    pub reasons: Vec<OverrideReason>,
    /// `<identifiers><header_from>`.
    pub header_from: Option<String>,
    /// `<identifiers><envelope_from>`.
    pub envelope_from: Option<String>,
    /// `<identifiers><envelope_to>`.
    pub envelope_to: Option<String>,
    /// Every `<auth_results><dkim>`: a record can carry several signatures; none is "the" result.
    pub dkim: Vec<DkimAuth>,
    /// Every `<auth_results><spf>`.
    pub spf: Vec<SpfAuth>,
}

/// A `<reason>` of `<policy_evaluated>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverrideReason {
    /// `<type>` as sent, lower-cased (`forwarded`, `local_policy`, `policy_test_mode`, …).
    pub kind: String,
    /// `<comment>`.
    pub comment: Option<String>,
}

/// One `<auth_results><dkim>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DkimAuth {
    /// `d=` of the signature.
    pub domain: Option<String>,
    /// `s=` of the signature.
    pub selector: Option<String>,
    /// The verification result.
    pub result: DkimResult,
    /// `<human_result>`.
    pub human_result: Option<String>,
}

/// One `<auth_results><spf>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpfAuth {
    /// The domain checked.
    pub domain: Option<String>,
    /// `<scope>` (`mfrom` or `helo`).
    pub scope: Option<String>,
    /// The SPF result.
    pub result: SpfResult,
    /// `<human_result>`.
    pub human_result: Option<String>,
}

/// Declares an enum of result words with their text, parsed case-insensitively; anything else is
/// `Other` (the caller counts a warning).
macro_rules! result_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value outside the schema's enumeration.
            Other,
        }

        impl $name {
            /// Parse a value as sent (trimmed, any case); `None` for a value outside the enumeration.
            pub fn parse(text: &str) -> Option<Self> {
                let t = text.trim();
                $(if t.eq_ignore_ascii_case($text) $(|| t.eq_ignore_ascii_case($alias))* {
                    return Some($name::$variant);
                })+
                None
            }

            /// The canonical lower-case text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other => "other",
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

result_enum! {
    /// `<disposition>`: what the receiver did. `pass` is not in the RFC 7489 schema but RFC 9990's own
    /// sample uses it, so it is kept as sent.
    Disposition {
        /// Delivered as usual.
        None = "none",
        /// Quarantined.
        Quarantine = "quarantine",
        /// Rejected.
        Reject = "reject",
        /// Reported as `pass`.
        Pass = "pass",
    }
}

result_enum! {
    /// `<policy_evaluated><dkim|spf>`: whether the mechanism gave an aligned pass.
    PolicyResult {
        /// Aligned pass.
        Pass = "pass",
        /// No aligned pass.
        Fail = "fail",
    }
}

result_enum! {
    /// A DKIM verification result (RFC 8601 §2.7.1).
    DkimResult {
        /// Not signed.
        None = "none",
        /// Verified.
        Pass = "pass",
        /// Did not verify.
        Fail = "fail",
        /// Signature refused by local policy.
        Policy = "policy",
        /// Could not be evaluated.
        Neutral = "neutral",
        /// Transient error.
        TempError = "temperror",
        /// Permanent error.
        PermError = "permerror",
    }
}

result_enum! {
    /// An SPF result (RFC 7208 §2.6). `hardfail` (sent by some reporters) is read as `fail`.
    SpfResult {
        /// No SPF record.
        None = "none",
        /// Neutral.
        Neutral = "neutral",
        /// Authorized.
        Pass = "pass",
        /// Not authorized.
        Fail = "fail" | "hardfail",
        /// Weakly not authorized.
        SoftFail = "softfail",
        /// Transient error.
        TempError = "temperror",
        /// Permanent error.
        PermError = "permerror",
    }
}

impl AggregateRecord {
    /// DMARC passes when DKIM or SPF gave an aligned pass (RFC 7489 §6.6.2).
    pub fn dmarc_pass(&self) -> bool {
        self.dkim_aligned == PolicyResult::Pass || self.spf_aligned == PolicyResult::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_words_are_case_insensitive_and_hardfail_is_fail() {
        assert_eq!(SpfResult::parse(" Pass "), Some(SpfResult::Pass));
        assert_eq!(SpfResult::parse("HardFail"), Some(SpfResult::Fail));
        assert_eq!(SpfResult::parse("unknown"), None);
        assert_eq!(DkimResult::parse("PERMERROR"), Some(DkimResult::PermError));
        assert_eq!(Disposition::parse("pass"), Some(Disposition::Pass));
        assert_eq!(SpfResult::Other.as_str(), "other");
    }

    #[test]
    fn reporter_falls_back_to_the_email_domain() {
        let mut meta = AggregateMeta {
            email: Some("noreply-dmarc@Large-Example.com".into()),
            ..AggregateMeta::default()
        };
        assert_eq!(meta.reporter(), "large-example.com");
        meta.org_name = "Google.com".into();
        assert_eq!(meta.reporter(), "google.com");
    }
}
