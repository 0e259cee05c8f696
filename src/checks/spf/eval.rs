//! check_host() (RFC 7208 §4–§7) through our DNS layer: record selection, every mechanism with CIDR
//! lengths, macros (including a validated `%{p}`), `include` and `redirect` semantics, `exp=`
//! explanations, and the processing limits (10 DNS-querying terms, 2 void lookups, 10 MX hosts per `mx`,
//! 10 PTR names per `ptr`, and an overall time limit).
//!
//! Public so that other code can explain a result, e.g. a DMARC report row's SPF verdict. The
//! mechanisms themselves are in `mechanisms.rs`, the request/result types in `request.rs`.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;

use crate::dns::{Answer, Lookups};

use super::macros::{MacroContext, MacroLetter, MacroString, MacroVars};
use super::parse::parse;
use super::record::{DomainSpec, Qualifier, Record};
pub use super::request::{SpfRequest, SpfResult, Verdict, check_domain};
use super::select::{Selection, select};

/// RFC 7208 §4.6.4: "SPF implementations MUST limit the total number of those terms to 10".
pub const LOOKUP_LIMIT: u32 = 10;
/// RFC 7208 §4.6.4: "SPF implementations SHOULD limit "void lookups" to two."
pub const VOID_LIMIT: u32 = 2;
/// RFC 7208 §4.6.4: an `mx` "MUST NOT result in querying more than 10 address records"; we ask one
/// address type per host, so this is the most MX hosts an `mx` may have.
pub const MX_LIMIT: usize = 10;
/// RFC 7208 §4.6.4: for `ptr` and `%{p}`, "all records other than the first 10 MUST be ignored".
pub const PTR_LIMIT: usize = 10;
/// RFC 7208 §4.6.4: "MTAs or other processors SHOULD impose a limit on the maximum amount of elapsed
/// time to evaluate check_host(). Such a limit SHOULD allow at least 20 seconds."
pub const TIME_LIMIT: Duration = Duration::from_secs(20);

/// Evaluate check_host() for `request` through `dns`.
pub async fn check_host(dns: &Lookups, request: &SpfRequest) -> Verdict {
    let ip = match request.ip {
        // RFC 7208 §5: "an IPv4-mapped IPv6 address ... MUST still be considered an IPv4 address".
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let (local, sender_domain) = request
        .sender
        .rsplit_once('@')
        .map_or(("postmaster", request.domain.as_str()), |(l, d)| (l, d));
    let mut ev = Evaluator {
        dns,
        ip,
        sender: request.sender.clone(),
        local: local.to_owned(),
        sender_domain: sender_domain.to_owned(),
        helo: request.helo.clone(),
        receiver: request.receiver.clone(),
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        lookups: 0,
        voids: 0,
    };
    let domain = request.domain.to_ascii_lowercase();
    let evaluated =
        tokio::time::timeout(request.time_limit, ev.check_host_inner(domain, false)).await;
    let (result, reason, exp) = match evaluated {
        Ok(inner) => (inner.result, inner.reason, inner.exp),
        Err(_) => (
            SpfResult::TempError,
            format!(
                "evaluation took longer than {} s",
                request.time_limit.as_secs_f64()
            ),
            None,
        ),
    };
    // RFC 7208 §6.2: the explanation is looked up after the result is known, only for "fail", and
    // "Non-existent exp= domains MUST NOT count against the void lookup limit".
    let explanation = match (result, exp) {
        (SpfResult::Fail, Some(source)) => {
            tokio::time::timeout(request.time_limit, ev.explanation(&source))
                .await
                .ok()
                .flatten()
        }
        _ => None,
    };
    Verdict {
        result,
        explanation,
        reason,
        dns_lookups: ev.lookups,
        void_lookups: ev.voids,
    }
}

/// Where a `fail` result's explanation comes from: the `exp=` of the record whose directive failed.
pub(super) struct ExpSource {
    pub(super) domain: String,
    pub(super) spec: DomainSpec,
}

pub(super) struct Inner {
    pub(super) result: SpfResult,
    pub(super) reason: String,
    pub(super) exp: Option<ExpSource>,
}

impl Inner {
    pub(super) fn stop(result: SpfResult, reason: String) -> Self {
        Inner {
            result,
            reason,
            exp: None,
        }
    }
}

/// A mechanism either matches, does not, or ends evaluation (temperror / permerror).
pub(super) type Step = Result<bool, Inner>;

pub(super) struct Evaluator<'a> {
    pub(super) dns: &'a Lookups,
    pub(super) ip: IpAddr,
    pub(super) sender: String,
    pub(super) local: String,
    pub(super) sender_domain: String,
    pub(super) helo: String,
    pub(super) receiver: String,
    pub(super) timestamp: u64,
    pub(super) lookups: u32,
    pub(super) voids: u32,
}

impl Evaluator<'_> {
    pub(super) fn vars<'v>(&'v self, domain: &'v str, validated: Option<&'v str>) -> MacroVars<'v> {
        MacroVars {
            sender: &self.sender,
            local: &self.local,
            sender_domain: &self.sender_domain,
            domain,
            ip: self.ip,
            helo: &self.helo,
            validated,
            receiver: &self.receiver,
            timestamp: self.timestamp,
        }
    }

    /// check_host() for one domain: the top-level call and every include/redirect target.
    pub(super) fn check_host_inner(
        &mut self,
        domain: String,
        nested: bool,
    ) -> BoxFuture<'_, Inner> {
        Box::pin(async move {
            // RFC 7208 §4.3: "If the <domain> is malformed (e.g., label longer than 63 characters,
            // zero-length label not at the end, etc.) or is not a multi-label domain name, ...
            // check_host() immediately returns the result "none"."
            if let Err(why) = check_domain(&domain) {
                return Inner::stop(SpfResult::None, format!("`{domain}` {why}"));
            }
            let answer = match self.dns.txt(&domain).await {
                Ok(answer) => answer,
                // RFC 7208 §4.4: "If the DNS lookup returns a server failure (RCODE 2) or some other
                // error (RCODE other than 0 or 3), or if the lookup times out, then check_host()
                // terminates immediately with the result "temperror"."
                Err(e) => {
                    return Inner::stop(
                        SpfResult::TempError,
                        format!("looking up TXT {domain}: {e}"),
                    );
                }
            };
            let txts = match answer {
                Answer::Records(r) => r.items,
                void => {
                    let what = if void == Answer::NxDomain {
                        "does not exist (NXDOMAIN)"
                    } else {
                        "has no TXT records"
                    };
                    if nested && let Err(stop) = self.count_void(&format!("TXT {domain}")) {
                        return stop;
                    }
                    return Inner::stop(SpfResult::None, format!("{domain} {what}"));
                }
            };
            let txt = match select(&txts) {
                Selection::One(txt) => txt,
                Selection::Multiple(all) => {
                    return Inner::stop(
                        SpfResult::PermError,
                        format!("{domain} publishes {} SPF records", all.len()),
                    );
                }
                Selection::None(_) => {
                    return Inner::stop(
                        SpfResult::None,
                        format!("{domain} publishes no SPF record"),
                    );
                }
            };
            let record = match parse(&txt.joined_bytes()).into_result() {
                Ok(record) => record,
                Err(errors) => {
                    let first = errors.first().map(ToString::to_string).unwrap_or_default();
                    return Inner::stop(
                        SpfResult::PermError,
                        format!("the SPF record of {domain} is invalid: {first}"),
                    );
                }
            };
            self.evaluate(&domain, &record).await
        })
    }

    /// RFC 7208 §4.6.2: directives left to right, the first match decides; then `redirect`; else
    /// neutral (§4.7).
    async fn evaluate(&mut self, domain: &str, record: &Record) -> Inner {
        for (term, qualifier, mechanism) in record.directives() {
            match self.mechanism(domain, term.text.as_str(), mechanism).await {
                Ok(false) => {}
                Ok(true) => {
                    let exp = match (qualifier, record.exp()) {
                        (Qualifier::Fail, Some(spec)) => Some(ExpSource {
                            domain: domain.to_owned(),
                            spec: spec.clone(),
                        }),
                        _ => None,
                    };
                    return Inner {
                        result: qualifier.result(),
                        reason: format!("matched `{term}` in {domain}"),
                        exp,
                    };
                }
                Err(stop) => return stop,
            }
        }
        let Some((term, spec)) = record.effective_redirect() else {
            return Inner::stop(
                SpfResult::Neutral,
                format!(
                    "nothing matched in {domain}, whose record has neither `all` nor `redirect=` (default neutral)"
                ),
            );
        };
        if let Err(stop) = self.count_lookup(domain, &term.text) {
            return stop;
        }
        let target = self.target(Some(spec), domain).await;
        // RFC 7208 §6.1: "If no SPF record is found, or if the <target-name> is malformed, the result is
        // a "permerror" rather than "none"." The redirected record's result and explanation replace ours.
        let inner = self.check_host_inner(target.clone(), true).await;
        match inner.result {
            SpfResult::None => Inner::stop(
                SpfResult::PermError,
                format!(
                    "`{term}` in {domain} points to a domain without SPF: {}",
                    inner.reason
                ),
            ),
            _ => Inner {
                reason: format!("{} (via `{term}` in {domain})", inner.reason),
                ..inner
            },
        }
    }

    /// RFC 7208 §4.6.4: count a DNS-querying term; the 11th is a permerror.
    pub(super) fn count_lookup(&mut self, domain: &str, term: &str) -> Result<(), Inner> {
        if self.lookups >= LOOKUP_LIMIT {
            return Err(Inner::stop(
                SpfResult::PermError,
                format!(
                    "more than {LOOKUP_LIMIT} DNS-querying terms: `{term}` in {domain} would be number {}",
                    self.lookups + 1
                ),
            ));
        }
        self.lookups += 1;
        Ok(())
    }

    /// RFC 7208 §4.6.4: count a lookup that returned NXDOMAIN or no answer; the third is a permerror.
    pub(super) fn count_void(&mut self, what: &str) -> Result<(), Inner> {
        self.voids += 1;
        if self.voids > VOID_LIMIT {
            return Err(Inner::stop(
                SpfResult::PermError,
                format!("more than {VOID_LIMIT} lookups returned nothing (the last: {what})"),
            ));
        }
        Ok(())
    }

    /// RFC 7208 §6.2: the explanation string, or `None` when anything about it is wrong ("If there are
    /// any DNS processing errors (any RCODE other than 0), or if no records are returned, or if more
    /// than one record is returned, or if there are syntax errors in the explanation string, then
    /// proceed as if no "exp" modifier was given.")
    async fn explanation(&self, source: &ExpSource) -> Option<String> {
        let target = self.target(Some(&source.spec), &source.domain).await;
        let answer = self.dns.txt(&target).await.ok()?;
        let [txt] = answer.records() else {
            return None;
        };
        let text = MacroString::parse(&txt.joined_bytes(), MacroContext::Explanation).ok()?;
        let validated = if text.uses(MacroLetter::ValidatedName) {
            self.validated_name(&source.domain).await
        } else {
            None
        };
        Some(text.expand(&self.vars(&source.domain, validated.as_deref())))
    }
}
