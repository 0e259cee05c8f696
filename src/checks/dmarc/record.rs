//! One TXT record at a `_dmarc` name, read per RFC 9989 §4.7 (tags) and §4.8 (formal definition), with
//! RFC 7489-era tags recognized and reported as obsolete.
//!
//! A TXT string is one of three things: a DMARC record (it starts with `v=DMARC1`, exactly), a record
//! that was meant to be one but that receivers discard (`v=dmarc1`, leading space, v not first), or
//! something unrelated. Everything wrong inside a DMARC record is kept as a problem naming its tag;
//! receivers use defaults for bad values (§4.8), so most problems do not void the record.

use super::Policy;
use crate::checks::dkim::tags::{TagList, TagProblem};

/// What a TXT string at `_dmarc.<domain>` is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Classified {
    /// A DMARC policy record.
    Dmarc(Box<DmarcRecord>),
    /// Meant as a DMARC record, but receivers discard it; `why` says what is wrong with its start.
    Broken {
        /// The record as published.
        text: String,
        /// Why receivers do not take it.
        why: String,
    },
    /// Not a DMARC record at all.
    Unrelated(String),
}

/// The value of a policy tag (`p`, `sp`, `np`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyTag {
    /// Not in the record.
    Absent,
    /// A valid value.
    Valid(Policy),
    /// Present with a value that is not none, quarantine or reject.
    Invalid,
}

impl PolicyTag {
    /// The policy, when valid.
    pub(crate) fn valid(self) -> Option<Policy> {
        match self {
            PolicyTag::Valid(p) => Some(p),
            _ => None,
        }
    }
}

/// `psd=` (RFC 9989 §4.7): whether the record is published for a public suffix domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Psd {
    /// `psd=y`: a public suffix domain.
    Yes,
    /// `psd=n`: an organizational domain for itself and its subdomains.
    No,
    /// `psd=u` or absent: the tree walk decides.
    Unspecified,
}

/// One valid report URI from `rua` or `ruf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportUri {
    /// The URI as written (without an obsolete `!size` suffix).
    pub uri: String,
    /// The destination host (the domain of a mailto address, the host of an https URI), lower-case.
    pub host: String,
}

/// A tag RFC 9989 removed (pct, rf, ri) or obsolete syntax (`!size` on a report URI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Obsolete {
    /// The tag (`pct`, `rf`, `ri`, `rua`/`ruf` for `!size`).
    pub tag: String,
    /// The value as written.
    pub value: String,
    /// Whether RFC 7489 receivers still act on it in a way that weakens the policy (pct below 100).
    pub weakens: bool,
}

/// Something wrong with one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The tag concerned (`-` when the problem is not about one tag).
    pub tag: String,
    /// What is wrong and what receivers do about it, as a sentence fragment.
    pub message: String,
    /// Whether it changes the policy receivers apply (or may make them discard the record).
    pub severe: bool,
}

/// A DMARC policy record, read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DmarcRecord {
    /// The record as published (strings joined).
    pub text: String,
    /// `p=`: the policy for the domain itself.
    pub p: PolicyTag,
    /// `sp=`: the policy for existing subdomains.
    pub sp: PolicyTag,
    /// `np=`: the policy for non-existent subdomains.
    pub np: PolicyTag,
    /// `psd=`.
    pub psd: Psd,
    /// `t=y`: testing mode.
    pub testing: bool,
    /// Valid aggregate report URIs.
    pub rua: Vec<ReportUri>,
    /// Valid failure report URIs.
    pub ruf: Vec<ReportUri>,
    /// A valid leftover `pct=` (RFC 7489), for readers that still honour it.
    pub pct: Option<u8>,
    /// Obsolete tags and syntax found.
    pub obsolete: Vec<Obsolete>,
    /// Problems, each naming its tag.
    pub problems: Vec<Problem>,
}

/// The tags RFC 9989 §4.7 defines.
const KNOWN_TAGS: [&str; 11] = [
    "v", "p", "sp", "np", "psd", "t", "adkim", "aspf", "fo", "rua", "ruf",
];
/// Tags RFC 7489 had and RFC 9989 removed (Appendix C).
const REMOVED_TAGS: [&str; 3] = ["pct", "rf", "ri"];

/// Classify one TXT string found at a `_dmarc` name.
pub(crate) fn classify(text: &str) -> Classified {
    match version(text) {
        Version::Current => Classified::Dmarc(Box::new(DmarcRecord::read(text))),
        Version::Broken(why) => Classified::Broken {
            text: text.to_owned(),
            why,
        },
        Version::None => Classified::Unrelated(text.to_owned()),
    }
}

enum Version {
    Current,
    Broken(String),
    None,
}

/// RFC 9989 §4.7 v=: "This tag MUST be the first tag in the list. The tag value is case sensitive, and
/// the only possible value is "DMARC1". If the tag is not the first in the list, or the tag is absent,
/// or the value is not "DMARC1", then the entire record MUST be ignored." §4.8: `dmarc-record =
/// dmarc-version *(dmarc-sep dmarc-tag) [dmarc-sep]`, `equals = *WSP "=" *WSP` — no leading space.
fn version(text: &str) -> Version {
    let first = text.split(';').next().unwrap_or("");
    let first_tag = first.split_once('=').map(|(n, v)| (n.trim(), v.trim()));
    if let Some(("v", "DMARC1")) = first_tag {
        return if text.starts_with(char::is_whitespace) {
            Version::Broken(
                "it starts with white space, and receivers only take records that start with v=DMARC1"
                    .into(),
            )
        } else {
            Version::Current
        };
    }
    // Not a valid start: decide whether it was meant to be DMARC, and say why it is not taken.
    let squeezed: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if !squeezed.contains("v=dmarc") {
        return Version::None;
    }
    Version::Broken(match first_tag {
        Some(("v", value)) if value.eq_ignore_ascii_case("DMARC1") => format!(
            "v={value} is not v=DMARC1; the version is case-sensitive, so receivers ignore the record"
        ),
        Some(("v", value)) if value.starts_with("DMARC1") => {
            "v=DMARC1 is not followed by ';', so receivers ignore the record".into()
        }
        Some(("v", value)) => format!("v={value} is not DMARC1, so receivers ignore the record"),
        _ => "v=DMARC1 is not the first tag, so receivers ignore the record".into(),
    })
}

impl DmarcRecord {
    fn read(text: &str) -> DmarcRecord {
        let mut record = DmarcRecord {
            text: text.to_owned(),
            p: PolicyTag::Absent,
            sp: PolicyTag::Absent,
            np: PolicyTag::Absent,
            psd: Psd::Unspecified,
            testing: false,
            rua: Vec::new(),
            ruf: Vec::new(),
            pct: None,
            obsolete: Vec::new(),
            problems: Vec::new(),
        };
        let list = TagList::parse(text);
        for problem in &list.problems {
            record.structure_problem(problem);
        }
        // With duplicates, read the first occurrence (the duplicate itself is reported above).
        for (i, tag) in list.tags.iter().enumerate() {
            if list.tags[..i].iter().any(|t| t.name == tag.name) {
                continue;
            }
            record.tag(tag.name, tag.value);
        }
        record
    }

    fn problem(&mut self, tag: &str, severe: bool, message: impl Into<String>) {
        self.problems.push(Problem {
            tag: tag.to_owned(),
            message: message.into(),
            severe,
        });
    }

    fn structure_problem(&mut self, problem: &TagProblem) {
        match problem {
            // RFC 9989 §4.7 takes DKIM's tag-value syntax, in which "if a tag name does occur more than
            // once, the entire tag-list is invalid" (RFC 6376 §3.2).
            TagProblem::Duplicate(name) => self.problem(
                name,
                true,
                format!("{name}= appears more than once; receivers may take either value or discard the whole record"),
            ),
            TagProblem::NoEquals(text) => self.problem(
                "-",
                false,
                format!("\"{text}\" is not a tag=value pair (a missing '=' or ';'?) and is ignored"),
            ),
            TagProblem::BadName(name) => self.problem(
                "-",
                false,
                format!("\"{name}\" is not a valid tag name and is ignored"),
            ),
        }
    }

    fn tag(&mut self, name: &str, value: &str) {
        if value.is_empty() && name != "v" {
            // §4.8: dmarc-tag = 1*ALPHA equals 1*dmarc-value.
            let severe = matches!(name, "p" | "sp" | "np");
            self.problem(name, severe, format!("{name}= has no value and is ignored"));
            if severe {
                self.set_policy(name, PolicyTag::Invalid);
            }
            return;
        }
        match name {
            "v" => {}
            "p" | "sp" | "np" => {
                let parsed = match value.to_ascii_lowercase().as_str() {
                    "none" => PolicyTag::Valid(Policy::None),
                    "quarantine" => PolicyTag::Valid(Policy::Quarantine),
                    "reject" => PolicyTag::Valid(Policy::Reject),
                    _ => {
                        self.problem(
                            name,
                            true,
                            format!("{name}={value} is not none, quarantine or reject"),
                        );
                        PolicyTag::Invalid
                    }
                };
                self.set_policy(name, parsed);
            }
            "t" => match value.to_ascii_lowercase().as_str() {
                "y" => self.testing = true,
                "n" => {}
                _ => self.problem(
                    "t",
                    false,
                    format!("t={value} is not y or n; receivers use the default t=n"),
                ),
            },
            "psd" => match value.to_ascii_lowercase().as_str() {
                "y" => self.psd = Psd::Yes,
                "n" => self.psd = Psd::No,
                "u" => {}
                _ => self.problem(
                    "psd",
                    false,
                    format!("psd={value} is not y, n or u; receivers use the default psd=u"),
                ),
            },
            "adkim" | "aspf" => {
                if !matches!(value.to_ascii_lowercase().as_str(), "r" | "s") {
                    self.problem(
                        name,
                        false,
                        format!(
                            "{name}={value} is not r or s; receivers use relaxed alignment (r)"
                        ),
                    );
                }
            }
            "fo" => {
                if let Err(why) = failure_options(value) {
                    self.problem(
                        "fo",
                        false,
                        format!("fo={value} {why}; receivers use the default fo=0"),
                    );
                }
            }
            "rua" | "ruf" => self.uris(name, value),
            "pct" => {
                let parsed = value.parse::<u8>().ok().filter(|p| *p <= 100);
                self.pct = parsed;
                self.obsolete.push(Obsolete {
                    tag: "pct".into(),
                    value: value.into(),
                    // RFC 7489 receivers applied the policy to pct% of failing mail only; an invalid
                    // value made them discard it.
                    weakens: parsed != Some(100),
                });
            }
            "rf" | "ri" => self.obsolete.push(Obsolete {
                tag: name.into(),
                value: value.into(),
                weakens: false,
            }),
            other => {
                let lower = other.to_ascii_lowercase();
                let hint = if KNOWN_TAGS.contains(&lower.as_str())
                    || REMOVED_TAGS.contains(&lower.as_str())
                {
                    format!(" (tag names are case-sensitive: write {lower}=)")
                } else {
                    " (a typo?)".to_string()
                };
                // §4.7: "unknown tags MUST be ignored".
                self.problem(
                    other,
                    false,
                    format!("{other}= is not a DMARC tag and is ignored{hint}"),
                );
            }
        }
    }

    fn set_policy(&mut self, name: &str, value: PolicyTag) {
        match name {
            "p" => self.p = value,
            "sp" => self.sp = value,
            _ => self.np = value,
        }
    }

    /// §4.8 `dmarc-urilist = (dmarc-uri / obs-dmarc-uri) *(*WSP "," *WSP (dmarc-uri / obs-dmarc-uri))`.
    fn uris(&mut self, tag: &str, value: &str) {
        for raw in value.split(',').map(str::trim) {
            if raw.is_empty() {
                self.problem(
                    tag,
                    false,
                    format!("{tag}= has an empty entry between commas"),
                );
                continue;
            }
            // obs-dmarc-report-size = "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]: reporters ignore it.
            let uri = match raw.split_once('!') {
                Some((uri, size)) => {
                    self.obsolete.push(Obsolete {
                        tag: tag.into(),
                        value: format!("!{size}"),
                        weakens: false,
                    });
                    uri
                }
                None => raw,
            };
            match report_uri(uri) {
                Ok(host) => {
                    let parsed = ReportUri {
                        uri: uri.to_owned(),
                        host,
                    };
                    if tag == "rua" {
                        self.rua.push(parsed);
                    } else {
                        self.ruf.push(parsed);
                    }
                }
                Err(why) => self.problem(
                    tag,
                    false,
                    format!("{tag}: {why}; reports are not sent there"),
                ),
            }
        }
    }
}

/// §4.8 `dmarc-fo`: 0 and 1 exclusive, d and s at most once each, colon-separated.
fn failure_options(value: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for option in value.split(':').map(str::trim) {
        let option_lower = option.to_ascii_lowercase();
        if !matches!(option_lower.as_str(), "0" | "1" | "d" | "s") {
            return Err(format!("has \"{option}\", which is not 0, 1, d or s"));
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(option)) {
            return Err(format!("lists {option} twice"));
        }
        seen.push(option);
    }
    if seen.contains(&"0") && seen.contains(&"1") {
        return Err("has both 0 and 1, which exclude each other".into());
    }
    Ok(())
}

/// Check a report URI (RFC 3986 `scheme ":" hier-part`) and return its destination host.
fn report_uri(uri: &str) -> Result<String, String> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(if uri.contains('@') {
            format!("\"{uri}\" has no URI scheme (write mailto:{uri})")
        } else {
            format!("\"{uri}\" is not a URI")
        });
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() {
        return Err(format!("\"{uri}\" is not a URI"));
    }
    let host = match scheme.to_ascii_lowercase().as_str() {
        "mailto" => {
            let address = rest.split('?').next().unwrap_or("");
            match address.rsplit_once('@') {
                Some((local, domain)) if !local.is_empty() => domain,
                _ => return Err(format!("\"{uri}\" is not a mail address")),
            }
        }
        "https" | "http" => {
            let Some(authority) = rest.strip_prefix("//") else {
                return Err(format!("\"{uri}\" has no host"));
            };
            let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
            let host_port = authority.rsplit('@').next().unwrap_or("");
            host_port.split(':').next().unwrap_or("")
        }
        other => {
            return Err(format!(
                "\"{uri}\" uses the {other}: scheme, which receivers do not send reports to (use mailto:)"
            ));
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if valid {
        Ok(host)
    } else {
        Err(format!("\"{uri}\" has no valid domain"))
    }
}

#[cfg(test)]
pub(crate) mod tests;
