//! The SPF check (RFC 7208): what a receiver will make of the domain's SPF record.
//!
//! - `select`: which TXT record is the SPF record, and the near misses (`v=spf10`, leading space).
//! - `parse` + `values` + `record` + `macros`: our own strict grammar with byte positions (mail-auth's
//!   parser is lenient and positionless).
//! - `walk` + `tree`: the include/redirect tree without a sender, counting DNS-querying terms and void
//!   lookups.
//! - `eval` + `mechanisms` + `request`: a full check_host(), used for every configured sending IP (and
//!   public for other users).
//! - `report` + `policy`: findings from the walk and the verdicts.
//!
//! Severities (see `report` and `policy` for each message):
//! - Critical, because receivers then fail SPF for every message or anyone may send as the domain:
//!   `missing`, `multiple_records`, `syntax_error`, `too_many_lookups`, `too_many_void_lookups`,
//!   `permissive_all`, `include_loop`, `include_without_spf` (permerror when reached), and
//!   `sending_ip_not_authorized` when the IP gets fail, softfail or permerror.
//! - Warning, because mail still flows but is weaker or fragile: `neutral_all`, `ptr_mechanism`,
//!   `string_too_long`, `record_too_long`, and `sending_ip_not_authorized` for neutral or none.
//! - Unknown: `lookup_failed` (a DNS failure, including a sending IP's temperror). `missing` is never
//!   reported when the lookup failed.

pub mod eval;
pub mod macros;
mod mechanisms;
pub mod parse;
mod policy;
pub mod record;
mod report;
pub mod request;
pub mod select;
pub mod tree;
mod values;
pub mod walk;

pub use eval::{SpfRequest, SpfResult, Verdict, check_host};

use futures::future::join_all;

use super::{DomainContext, Outcome};

/// Run the SPF check: walk the tree, then evaluate check_host() for every configured sending IP with
/// `postmaster@<domain>` as the sender.
pub async fn check(cx: &DomainContext) -> Outcome {
    let domain = cx.domain.as_str();
    let tree = walk::walk(&cx.dns, domain).await;
    let verdicts = if matches!(tree.root.status, walk::NodeStatus::LookupFailed { .. }) {
        // Every IP would get temperror for the same reason; the lookup failure is the finding.
        Vec::new()
    } else {
        let sender = format!("postmaster@{domain}");
        join_all(cx.sending_ips.iter().map(|ip| {
            let request = SpfRequest::new(*ip, domain, &sender);
            async move { (*ip, check_host(&cx.dns, &request).await) }
        }))
        .await
    };
    report::outcome(domain, &tree, &verdicts)
}

#[cfg(test)]
mod walk_tests;
