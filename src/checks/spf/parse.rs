//! Our own SPF tokenizer and grammar (RFC 7208 §4.6.1, §12), strict where mail-auth is lenient
//! (`ip4:999.1.1.1`, `/33`, unknown mechanisms), with the byte position of every error.
//!
//! The whole record is checked before evaluation (RFC 7208 §4.6: "if there are any syntax errors
//! anywhere in the record, check_host() returns immediately with the result "permerror""), and every
//! bad term is reported, not only the first. Argument grammars (domain-spec, CIDR, IPs) are in
//! `values.rs`.

use std::fmt;
use std::net::Ipv6Addr;

use super::macros::{MacroContext, MacroString, describe_byte};
use super::record::{Mechanism, Modifier, Qualifier, Record, Term, TermKind};
use super::values::{
    domain_and_cidr, domain_spec, ip_network, parse_ipv4, required_domain, required_value,
};

/// One grammar error, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based index of the term (0: the record as a whole).
    pub term_index: usize,
    /// Byte offset of the term within the record.
    pub term_offset: usize,
    /// Byte offset of the error itself within the record.
    pub offset: usize,
    /// The term as written (lossy for non-UTF-8 bytes).
    pub term: String,
    /// What is wrong, as a clause a human can act on.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.term_index == 0 {
            write!(f, "at byte {}: {}", self.offset, self.message)
        } else {
            write!(
                f,
                "term {} `{}` at byte {}: {}",
                self.term_index, self.term, self.term_offset, self.message
            )
        }
    }
}

/// A record read as far as it goes: its good terms, and an error for every bad one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The record with its well-formed terms.
    pub record: Record,
    /// Every grammar error found (empty = valid).
    pub errors: Vec<SyntaxError>,
}

impl Parsed {
    /// The record when it has no error at all (what evaluation needs).
    pub fn into_result(self) -> Result<Record, Vec<SyntaxError>> {
        if self.errors.is_empty() {
            Ok(self.record)
        } else {
            Err(self.errors)
        }
    }
}

/// RFC 7208 §4.5: a record starts with "exactly "v=spf1"" (case-insensitive, as ABNF strings are),
/// "terminated by either an SP character or the end of the record".
pub fn is_spf_record(text: &[u8]) -> bool {
    text.len() >= 6
        && text[..6].eq_ignore_ascii_case(b"v=spf1")
        && text.get(6).is_none_or(|&b| b == b' ')
}

/// Parse a record (which [`is_spf_record`] selected).
pub fn parse(text: &[u8]) -> Parsed {
    let mut record = Record {
        text: String::from_utf8_lossy(text).into_owned(),
        terms: Vec::new(),
    };
    let mut errors = Vec::new();
    if !is_spf_record(text) {
        errors.push(SyntaxError {
            term_index: 0,
            term_offset: 0,
            offset: 0,
            term: String::new(),
            message: "the record does not start with `v=spf1` followed by a space".into(),
        });
        return Parsed { record, errors };
    }
    let mut pos = 6;
    let mut index = 0;
    let (mut redirects, mut exps) = (0, 0);
    while pos < text.len() {
        if text[pos] == b' ' {
            pos += 1;
            continue;
        }
        let start = pos;
        while pos < text.len() && text[pos] != b' ' {
            pos += 1;
        }
        index += 1;
        let bytes = &text[start..pos];
        let term_text = String::from_utf8_lossy(bytes).into_owned();
        let located = |at: usize, message: String| SyntaxError {
            term_index: index,
            term_offset: start,
            offset: start + at,
            term: term_text.clone(),
            message,
        };
        match parse_term(bytes) {
            Ok(kind) => {
                // RFC 7208 §6: "These two modifiers MUST NOT appear in a record more than once each. If
                // they do, then check_host() exits with a result of "permerror"."
                let repeated = match &kind {
                    TermKind::Modifier(Modifier::Redirect(_)) => {
                        redirects += 1;
                        (redirects > 1).then_some("redirect")
                    }
                    TermKind::Modifier(Modifier::Exp(_)) => {
                        exps += 1;
                        (exps > 1).then_some("exp")
                    }
                    _ => None,
                };
                if let Some(name) = repeated {
                    errors.push(located(
                        0,
                        format!("a second `{name}=` modifier; a record may have at most one"),
                    ));
                    continue;
                }
                record.terms.push(Term {
                    index,
                    offset: start,
                    text: term_text.clone(),
                    kind,
                });
            }
            Err((at, message)) => errors.push(located(at, message)),
        }
    }
    Parsed { record, errors }
}

/// An error inside one term: offset within the term, message.
pub(super) type TermError = (usize, String);

fn parse_term(term: &[u8]) -> Result<TermKind, TermError> {
    // RFC 7208 §4.6.1: terms are separated by spaces only and made of visible ASCII (§3.1: records are
    // 7-bit ASCII), so tabs, line breaks, NULs and bytes above 0x7e are errors, not separators.
    if let Some(at) = term.iter().position(|b| !(0x21..=0x7e).contains(b)) {
        return Err((
            at,
            format!(
                "{} is not allowed (terms are visible ASCII separated by spaces)",
                describe_byte(term[at])
            ),
        ));
    }
    // RFC 7208 §4.6.1: a modifier is a name followed by "=" before any ":" or "/".
    let first_special = term.iter().position(|b| matches!(b, b':' | b'/' | b'='));
    if let Some(eq) = first_special.filter(|&i| term[i] == b'=') {
        return parse_modifier(&term[..eq], &term[eq + 1..], eq + 1).map(TermKind::Modifier);
    }
    let (qualifier, body_start) = match term[0] {
        b'+' => (Qualifier::Pass, 1),
        b'-' => (Qualifier::Fail, 1),
        b'~' => (Qualifier::SoftFail, 1),
        b'?' => (Qualifier::Neutral, 1),
        _ => (Qualifier::Pass, 0),
    };
    let body = &term[body_start..];
    let name_len = body
        .iter()
        .position(|b| matches!(b, b':' | b'/'))
        .unwrap_or(body.len());
    let name = String::from_utf8_lossy(&body[..name_len]).to_ascii_lowercase();
    let rest = &body[name_len..];
    let at = body_start + name_len;
    let mechanism = match name.as_str() {
        "all" => {
            if !rest.is_empty() {
                return Err((at, "`all` takes no argument or CIDR length".into()));
            }
            Mechanism::All
        }
        "include" => Mechanism::Include(required_domain("include", rest, at)?),
        "exists" => Mechanism::Exists(required_domain("exists", rest, at)?),
        "a" | "mx" => {
            let (domain, cidr) = domain_and_cidr(&name, rest, at)?;
            if name == "a" {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            }
        }
        "ptr" => match rest.first() {
            None => Mechanism::Ptr(None),
            Some(b':') => Mechanism::Ptr(Some(domain_spec(&rest[1..], at + 1)?)),
            Some(_) => return Err((at, "`ptr` takes no CIDR length".into())),
        },
        "ip4" => {
            let (addr, prefix) = ip_network(rest, at, "ip4", 32, parse_ipv4)?;
            Mechanism::Ip4 { addr, prefix }
        }
        "ip6" => {
            let (addr, prefix) = ip_network(rest, at, "ip6", 128, |t| t.parse::<Ipv6Addr>().ok())?;
            Mechanism::Ip6 { addr, prefix }
        }
        "" => {
            return Err((
                body_start,
                "a qualifier must be followed by a mechanism".into(),
            ));
        }
        "redirect" | "exp" => {
            return Err((
                body_start,
                format!("`{name}` is a modifier: write `{name}=<domain>`, without a qualifier"),
            ));
        }
        other => {
            return Err((
                body_start,
                format!(
                    "`{other}` is not a mechanism (all, include, a, mx, ptr, ip4, ip6, exists)"
                ),
            ));
        }
    };
    Ok(TermKind::Directive {
        qualifier,
        mechanism,
    })
}

/// `unknown-modifier = name "=" macro-string`, `redirect = "redirect" "=" domain-spec`,
/// `explanation = "exp" "=" domain-spec`; `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`.
fn parse_modifier(name: &[u8], value: &[u8], value_at: usize) -> Result<Modifier, TermError> {
    let Some(&first) = name.first() else {
        return Err((0, "a modifier needs a name before `=`".into()));
    };
    if !first.is_ascii_alphabetic() {
        return Err((
            0,
            "a modifier name must start with a letter (a qualifier cannot precede a modifier)"
                .into(),
        ));
    }
    if let Some(at) = name
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    {
        return Err((
            at,
            format!(
                "{} is not allowed in a modifier name",
                describe_byte(name[at])
            ),
        ));
    }
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    match lower.as_str() {
        "redirect" => Ok(Modifier::Redirect(required_value(
            "redirect", value, value_at,
        )?)),
        "exp" => Ok(Modifier::Exp(required_value("exp", value, value_at)?)),
        _ => {
            let value = MacroString::parse(value, MacroContext::UnknownModifier)
                .map_err(|e| (value_at + e.offset, e.message))?;
            Ok(Modifier::Unknown {
                name: String::from_utf8_lossy(name).into_owned(),
                value,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::spf::record::DualCidr;
    use std::net::Ipv4Addr;

    fn errors(record: &str) -> Vec<String> {
        parse(record.as_bytes())
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn only_error(record: &str) -> String {
        let errs = errors(record);
        assert_eq!(errs.len(), 1, "{record}: {errs:?}");
        errs[0].clone()
    }

    #[test]
    fn a_valid_record_parses_into_typed_terms() {
        let parsed = parse(b"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:mail.example.com/28//64 mx -include:_spf.example.net ~all exp=why.%{d} x-foo=%{i}");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let r = parsed.record;
        assert_eq!(r.terms.len(), 8);
        assert_eq!(
            r.terms[0].kind,
            TermKind::Directive {
                qualifier: Qualifier::Pass,
                mechanism: Mechanism::Ip4 {
                    addr: Ipv4Addr::new(192, 0, 2, 0),
                    prefix: 24
                }
            }
        );
        assert!(matches!(
            &r.terms[2].kind,
            TermKind::Directive { mechanism: Mechanism::A { cidr: DualCidr { v4: 28, v6: 64 }, domain: Some(d) }, .. } if d.to_string() == "mail.example.com"
        ));
        assert_eq!(r.terms[4].offset, 71);
        assert_eq!(r.all().map(|(_, q)| q), Some(Qualifier::SoftFail));
        assert!(r.exp().is_some());
        assert!(r.effective_redirect().is_none());
    }

    #[test]
    fn glued_all_is_reported_with_term_position_and_the_missing_space() {
        assert_eq!(
            only_error("v=spf1 a mx ip4:1.2.3.4~all"),
            "term 3 `ip4:1.2.3.4~all` at byte 12: `1.2.3.4~all` is not an IPv4 address (a space is missing before `~all`)"
        );
    }

    #[test]
    fn every_bad_term_is_reported_not_only_the_first() {
        let errs = errors("v=spf1 ip4:999.1.1.1 ip4:1.2.3.4/33 moo ip6:::1/129 -all");
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs[0].contains("`999.1.1.1` is not an IPv4 address"));
        assert!(errs[1].contains("above 32"));
        assert!(errs[2].contains("`moo` is not a mechanism"));
        assert!(errs[3].contains("above 128"));
    }

    /// RFC 7208 §4.6.1 / §5: the cases mail-auth lets through.
    #[test]
    fn strictness_matches_the_rfc_grammar() {
        for bad in [
            "v=spf1 ip4:1.2.3.4/032",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:01.2.3.4",
            "v=spf1 ip4:1.2.3.4//32",
            "v=spf1 ip6:::CAFE::BABE",
            "v=spf1 a/24/64",
            "v=spf1 a:museum",
            "v=spf1 a:abc.123",
            "v=spf1 a:example.-com",
            "v=spf1 a:example.com:8080",
            "v=spf1 include",
            "v=spf1 include:",
            "v=spf1 include:example.com/24",
            "v=spf1 exists",
            "v=spf1 ptr/0",
            "v=spf1 -all.",
            "v=spf1 -all:foo",
            "v=spf1 redirect:example.com",
            "v=spf1 1up=foo",
            "v=spf1 =all",
            "v=spf1 exp=",
            "v=spf1 exp=-all",
            "v=spf1 foo=%abc",
            "v=spf1 a:foo.example.com\0",
            "v=spf1 a:x.example.com\rptr",
            "v=spf1 exists:%{r}.example.com",
            "v=spf1 exists:%{d0}.example.com",
            "v=spf1 redirect=a.example.com redirect=b.example.com",
            "v=spf1 exp=a.example.com exp=b.example.com",
            "v=spf1 \u{96}all",
            "v=spf1 moo.cow/far_out=man:dog/cat",
        ] {
            assert!(!errors(bad).is_empty(), "accepted: {bad:?}");
        }
        for good in [
            "v=spf1",
            "v=spf1 ",
            "v=spf1 a  -all ",
            "V=SpF1 ~ALL",
            "v=spf1 a//0 mx/0 a:foo:bar/baz.example.com a:foo.example.xn--zckzah",
            "v=spf1 moo.cow-far_out=man:dog/cat",
            "v=spf1 default=+ all -all",
            "v=spf1 ip6:::1.1.1.1/0 ip6:Cafe:Babe:8000::/33",
            "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}",
            "v=spf1 a:mail.example...com",
            "v=spf1 a:macro%%percent%_%_space%-url-space.example.com",
            "v=spf1 include:o.spf.example.com.",
        ] {
            assert_eq!(errors(good), Vec::<String>::new(), "refused: {good:?}");
        }
    }

    #[test]
    fn version_must_end_at_a_space() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"v=spf1 -all"));
        assert!(is_spf_record(b"V=SPF1 -all"));
        assert!(!is_spf_record(b"v=spf10 -all"));
        assert!(!is_spf_record(b" v=spf1 -all"));
        assert!(!is_spf_record(b"v=spf1mx"));
    }

    #[test]
    fn non_ascii_bytes_are_located() {
        let e = &parse(b"v=spf1 a:example.net \x96all").errors[0];
        assert_eq!((e.term_index, e.offset), (2, 21));
        assert!(e.message.contains("0x96"), "{}", e.message);
    }
}
