//! TEMPORARY minimal PTR / FCrDNS check so the posture orchestration can be tested end to end in the
//! h-posture branch. The lead replaces this file with the PTR owner's version at merge; only the
//! interface (`PtrOutcome`, `check`) is relied upon.

use std::net::IpAddr;

use crate::dns::{Answer, Lookups};
use crate::findings::{Finding, FindingCode, Severity};

/// What the PTR check found for one sending IP.
#[derive(Debug, Clone, PartialEq)]
pub struct PtrOutcome {
    /// The IP checked.
    pub ip: IpAddr,
    /// The PTR name that forward-confirms (or the first PTR name when none does).
    pub ptr: Option<String>,
    /// The PTR name resolves back to the IP (forward-confirmed reverse DNS).
    pub fcrdns: bool,
    /// What was found.
    pub findings: Vec<Finding>,
}

/// TEMPORARY: look up the PTR of `ip` and confirm it forward.
pub async fn check(dns: &Lookups, ip: IpAddr) -> PtrOutcome {
    let mut out = PtrOutcome {
        ip,
        ptr: None,
        fcrdns: false,
        findings: Vec::new(),
    };
    let names = match dns.ptr(ip).await {
        Ok(Answer::Records(r)) => r.items,
        Ok(_) => {
            out.findings.push(Finding::new(
                FindingCode::PtrMissing,
                Severity::Warning,
                format!("{ip} has no PTR record."),
            ));
            return out;
        }
        Err(e) => {
            out.findings.push(Finding::new(
                FindingCode::PtrLookupFailed,
                Severity::Unknown,
                format!("The PTR lookup for {ip} failed: {e}."),
            ));
            return out;
        }
    };
    out.ptr = names.first().cloned();
    for name in &names {
        let forward: Result<Vec<IpAddr>, _> = match ip {
            IpAddr::V4(_) => dns
                .a(name)
                .await
                .map(|a| a.records().iter().map(|&v| IpAddr::V4(v)).collect()),
            IpAddr::V6(_) => dns
                .aaaa(name)
                .await
                .map(|a| a.records().iter().map(|&v| IpAddr::V6(v)).collect()),
        };
        match forward {
            Ok(ips) if ips.contains(&ip) => {
                out.ptr = Some(name.clone());
                out.fcrdns = true;
                return out;
            }
            Ok(_) => {}
            Err(e) => {
                out.findings.push(Finding::new(
                    FindingCode::PtrLookupFailed,
                    Severity::Unknown,
                    format!("The forward lookup of {name} (PTR of {ip}) failed: {e}."),
                ));
                return out;
            }
        }
    }
    out.findings.push(Finding::new(
        FindingCode::PtrFcrdnsMismatch,
        Severity::Warning,
        format!("The PTR name of {ip} does not resolve back to {ip}."),
    ));
    out
}
