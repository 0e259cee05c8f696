//! The JSON of `senderscope check --format json` (DESIGN §4): one object with the overall `status`,
//! `domains[].{domain,status,checks[].{check,status,record,findings[].{code,severity,message,detail}}}`
//! and `ips[].{ip,status,ptr,fcrdns,findings}`.
//!
//! `ips[].findings` goes beyond the DESIGN §4 example: without it an IP whose status is `unknown` or
//! `warning` would not say why. `ips[].listings` arrives with the blocklist integration.

use std::net::IpAddr;

use serde::Serialize;

use super::{DomainReport, IpReport, PostureReport};
use crate::findings::{CheckReport, Finding, Severity};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct PostureJson<'a> {
    /// Worst of everything below.
    pub status: Severity,
    /// One entry per domain, in the order given.
    pub domains: Vec<DomainJson<'a>>,
    /// One entry per sending IP.
    pub ips: Vec<IpJson<'a>>,
}

/// One domain.
#[derive(Debug, Serialize)]
pub struct DomainJson<'a> {
    /// The domain.
    pub domain: &'a str,
    /// Worst of its checks.
    pub status: Severity,
    /// Its checks, in registry order, `bulk_sender` last.
    pub checks: Vec<CheckJson<'a>>,
}

/// One check.
#[derive(Debug, Serialize)]
pub struct CheckJson<'a> {
    /// The check's name (`spf`, `dkim`, …, `bulk_sender`).
    pub check: &'static str,
    /// Worst of its findings.
    pub status: Severity,
    /// The record as published, or null.
    pub record: Option<&'a str>,
    /// What was found (code, severity, message, detail).
    pub findings: &'a [Finding],
}

/// One sending IP.
#[derive(Debug, Serialize)]
pub struct IpJson<'a> {
    /// The IP.
    pub ip: IpAddr,
    /// Worst of its findings.
    pub status: Severity,
    /// Its PTR name, or null.
    pub ptr: Option<&'a str>,
    /// Whether the PTR name resolves back to the IP.
    pub fcrdns: bool,
    /// What was found.
    pub findings: &'a [Finding],
}

impl<'a> PostureJson<'a> {
    /// The JSON view of a report.
    pub fn new(report: &'a PostureReport) -> Self {
        PostureJson {
            status: report.status,
            domains: report.domains.iter().map(DomainJson::new).collect(),
            ips: report.ips.iter().map(IpJson::new).collect(),
        }
    }
}

impl<'a> DomainJson<'a> {
    fn new(d: &'a DomainReport) -> Self {
        DomainJson {
            domain: d.domain.as_str(),
            status: d.status,
            checks: d.checks.iter().map(CheckJson::new).collect(),
        }
    }
}

impl<'a> CheckJson<'a> {
    fn new(c: &'a CheckReport) -> Self {
        CheckJson {
            check: c.check,
            status: c.status,
            record: c.record.as_deref(),
            findings: &c.findings,
        }
    }
}

impl<'a> IpJson<'a> {
    fn new(i: &'a IpReport) -> Self {
        IpJson {
            ip: i.ip,
            status: i.status,
            ptr: i.ptr.as_deref(),
            fcrdns: i.fcrdns,
            findings: &i.findings,
        }
    }
}
