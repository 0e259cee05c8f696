//! The SPF record as types (RFC 7208 §4.6.1, §5, §6, §12): terms with their position, directives,
//! mechanisms with CIDR lengths, modifiers, and domain-specs. Parsing lives in `parse.rs`.
//!
//! ```text
//! record     = version terms *SP
//! version    = "v=spf1"
//! terms      = *( 1*SP ( directive / modifier ) )
//! directive  = [ qualifier ] mechanism
//! qualifier  = "+" / "-" / "?" / "~"
//! mechanism  = ( all / include / a / mx / ptr / ip4 / ip6 / exists )
//! modifier   = redirect / explanation / unknown-modifier
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::eval::SpfResult;
use super::macros::{MacroLetter, MacroString, MacroVars};

/// `qualifier = "+" / "-" / "?" / "~"` (RFC 7208 §4.6.2); `+` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `+`: pass.
    Pass,
    /// `-`: fail.
    Fail,
    /// `~`: softfail.
    SoftFail,
    /// `?`: neutral.
    Neutral,
}

impl Qualifier {
    /// The result a matching directive gives.
    pub fn result(self) -> SpfResult {
        match self {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

/// `dual-cidr-length`: prefix lengths applied to addresses found through `a` and `mx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualCidr {
    /// 0–32, default 32.
    pub v4: u8,
    /// 0–128, default 128.
    pub v6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        DualCidr { v4: 32, v6: 128 }
    }
}

/// A mechanism (RFC 7208 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`: always matches.
    All,
    /// `include:<domain-spec>`: matches when the target's check_host() passes.
    Include(DomainSpec),
    /// `a[:<domain-spec>][dual-cidr]`.
    A {
        /// Target; the current domain when absent.
        domain: Option<DomainSpec>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `mx[:<domain-spec>][dual-cidr]`.
    Mx {
        /// Target; the current domain when absent.
        domain: Option<DomainSpec>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `ptr[:<domain-spec>]` (RFC 7208 §5.5: "This mechanism SHOULD NOT be published").
    Ptr(Option<DomainSpec>),
    /// `ip4:<network>[/len]`.
    Ip4 {
        /// The network address as written.
        addr: Ipv4Addr,
        /// Prefix length, 32 when absent.
        prefix: u8,
    },
    /// `ip6:<network>[/len]`.
    Ip6 {
        /// The network address as written.
        addr: Ipv6Addr,
        /// Prefix length, 128 when absent.
        prefix: u8,
    },
    /// `exists:<domain-spec>`: matches when the target has an A record.
    Exists(DomainSpec),
}

impl Mechanism {
    /// The mechanism's name as written in records.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::All => "all",
            Mechanism::Include(_) => "include",
            Mechanism::A { .. } => "a",
            Mechanism::Mx { .. } => "mx",
            Mechanism::Ptr(_) => "ptr",
            Mechanism::Ip4 { .. } => "ip4",
            Mechanism::Ip6 { .. } => "ip6",
            Mechanism::Exists(_) => "exists",
        }
    }

    /// RFC 7208 §4.6.4: "the "include", "a", "mx", "ptr", and "exists" mechanisms ... cause DNS queries"
    /// and count toward the limit of 10.
    pub fn costs_lookup(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

/// A modifier (RFC 7208 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    /// `redirect=<domain-spec>`.
    Redirect(DomainSpec),
    /// `exp=<domain-spec>`.
    Exp(DomainSpec),
    /// Any other `name=value`: ignored by evaluation (RFC 7208 §6: "Unrecognized modifiers MUST be
    /// ignored"), but its value must still be a valid macro-string.
    Unknown {
        /// The modifier name.
        name: String,
        /// Its value.
        value: MacroString,
    },
}

/// What a term is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermKind {
    /// `[qualifier] mechanism`.
    Directive {
        /// The qualifier (`+` when absent).
        qualifier: Qualifier,
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// `name=value`.
    Modifier(Modifier),
}

/// One term of a record, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// 1-based position among the terms after `v=spf1`.
    pub index: usize,
    /// Byte offset of the term within the record.
    pub offset: usize,
    /// The term as written.
    pub text: String,
    /// What it means.
    pub kind: TermKind,
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A parsed SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record text as published (lossy for non-UTF-8 bytes).
    pub text: String,
    /// Its terms, in order.
    pub terms: Vec<Term>,
}

impl Record {
    /// The directives, in evaluation order.
    pub fn directives(&self) -> impl Iterator<Item = (&Term, Qualifier, &Mechanism)> {
        self.terms.iter().filter_map(|t| match &t.kind {
            TermKind::Directive {
                qualifier,
                mechanism,
            } => Some((t, *qualifier, mechanism)),
            TermKind::Modifier(_) => None,
        })
    }

    /// The first `all` directive, if any.
    pub fn all(&self) -> Option<(&Term, Qualifier)> {
        self.directives()
            .find(|(_, _, m)| matches!(m, Mechanism::All))
            .map(|(t, q, _)| (t, q))
    }

    /// Terms after the first `all` that receivers never act on. RFC 7208 §5.1: "Mechanisms after "all"
    /// will never be tested. Mechanisms listed after "all" MUST be ignored."; §6.1: a `redirect` is
    /// ignored when there is an `all`. `exp=` applies wherever it stands and unknown modifiers are
    /// ignored wherever they stand, so neither is listed.
    pub fn ignored_after_all(&self) -> Vec<&Term> {
        let Some((all, _)) = self.all() else {
            return Vec::new();
        };
        self.terms
            .iter()
            .filter(|t| t.index > all.index)
            .filter(|t| {
                matches!(
                    t.kind,
                    TermKind::Directive { .. } | TermKind::Modifier(Modifier::Redirect(_))
                )
            })
            .collect()
    }

    /// The `redirect=` modifier and its term, if any (the parser refuses two).
    pub fn redirect(&self) -> Option<(&Term, &DomainSpec)> {
        self.terms.iter().find_map(|t| match &t.kind {
            TermKind::Modifier(Modifier::Redirect(spec)) => Some((t, spec)),
            _ => None,
        })
    }

    /// The `exp=` modifier, if any (the parser refuses two).
    pub fn exp(&self) -> Option<&DomainSpec> {
        self.terms.iter().find_map(|t| match &t.kind {
            TermKind::Modifier(Modifier::Exp(spec)) => Some(spec),
            _ => None,
        })
    }

    /// RFC 7208 §6.1: "any "redirect" modifier MUST be ignored when there is an "all" mechanism in the
    /// record, regardless of the relative ordering of terms." The redirect that evaluation may follow.
    pub fn effective_redirect(&self) -> Option<(&Term, &DomainSpec)> {
        if self.all().is_some() {
            None
        } else {
            self.redirect()
        }
    }
}

/// `domain-spec = macro-string domain-end` (RFC 7208 §7.1), validated when parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSpec(pub MacroString);

impl DomainSpec {
    /// Whether expanding needs the sender, client IP or HELO (anything but `%{d}`).
    pub fn needs_sender(&self) -> bool {
        !self.0.only_domain_macros()
    }

    /// Whether expanding needs `%{p}` (a PTR lookup and validation first).
    pub fn uses_validated_name(&self) -> bool {
        self.0.uses(MacroLetter::ValidatedName)
    }

    /// The target name for a query (RFC 7208 §7.3): expanded, without a trailing dot, and "if the expanded
    /// domain name exceeds 253 characters ... the left side is truncated to fit, by removing successive
    /// domain labels (and their following dots) until the total length does not exceed 253 characters."
    pub fn expand(&self, vars: &MacroVars<'_>) -> String {
        let expanded = self.0.expand(vars);
        let mut name = expanded.strip_suffix('.').unwrap_or(&expanded);
        while name.len() > 253 {
            match name.split_once('.') {
                Some((_, rest)) => name = rest,
                None => break,
            }
        }
        name.to_ascii_lowercase()
    }

    /// The target when it can be known without a sender (no macros other than `%{d}`), for the lookup
    /// walk of a posture check.
    pub fn expand_static(&self, domain: &str) -> Option<String> {
        if self.needs_sender() {
            return None;
        }
        let vars = MacroVars {
            sender: "",
            local: "",
            sender_domain: "",
            domain,
            ip: std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            helo: "",
            validated: None,
            receiver: "",
            timestamp: 0,
        };
        Some(self.expand(&vars))
    }
}

impl fmt::Display for DomainSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
