//! Raw config (`raw.rs`) → runtime config (`model.rs`). Every value is checked, every problem collected
//! with its key path, and only then placed in the file (`locate.rs`): a refused config lists all that is
//! wrong with it at once, each line `file:line:column: key.path: what is wrong`.
//!
//! - this file: the walk over the sections, shared checks (durations, counts, secrets), placing;
//! - `sections`: server, state, dns, schedule; `domains`: the domain list; `blocklists`.
//!
//! Bounds are sanity limits, not tuning advice; each says why where it is not obvious.

mod alerts;
mod blocklists;
mod domains;
mod events;
mod imap;
mod ingest;
mod sections;

use std::path::Path;
use std::time::Duration;

use super::duration::{format_duration, parse_duration};
use super::error::{ConfigError, Problem};
use super::keypath::{KeyPath, Position};
use super::locate::{locate, locate_many};
use super::model::Config;
use super::raw::RawConfig;
use super::secret::{Secret, SecretSource};

/// Past this many problems, the rest are summarized in one line: nobody reads further, and the first
/// fixes often clear the rest.
const MAX_SHOWN: usize = 100;

/// Validate a deserialized config. `text` and `origin` place the problems; `secrets` reads the secret
/// files and environment variables.
pub(crate) fn validate(
    raw: RawConfig,
    text: &str,
    origin: &str,
    secrets: &dyn SecretSource,
) -> Result<Config, ConfigError> {
    let mut v = Validator {
        found: Vec::new(),
        environment: Vec::new(),
        secrets,
    };
    let root = KeyPath::root();
    let server = v.server(raw.server, &root.key("server"));
    let state = v.state(raw.state, &root.key("state"));
    let dns = v.dns(raw.dns, &root.key("dns"));
    let schedule = v.schedule(raw.schedule, &root.key("schedule"));
    let domains = match raw.domains {
        Some(domains) => v.domains(domains, &root.key("domains")),
        None => {
            v.problem(
                root.key("domains"),
                "required key is missing; list the sending domains to watch, or write `domains: []` to serve only the endpoints",
            );
            Vec::new()
        }
    };
    let blocklists = v.blocklists(raw.blocklists, &root.key("blocklists"));
    let events = v.events(raw.events, &root.key("events"));
    let alerts = v.alerts(
        raw.alerts,
        &root.key("alerts"),
        &domains,
        &events.thresholds,
    );
    let ingest = v.ingest(raw.ingest, &root.key("ingest"));
    if v.found.is_empty() && v.environment.is_empty() {
        return Ok(Config {
            server,
            state,
            dns,
            schedule,
            domains,
            blocklists,
            events,
            alerts,
            ingest,
        });
    }
    Err(v.into_error(text, origin))
}

struct Validator<'a> {
    /// Problems in the file, by key path.
    found: Vec<(KeyPath, String)>,
    /// Problems with environment variables (no place in the file).
    environment: Vec<Problem>,
    secrets: &'a dyn SecretSource,
}

impl Validator<'_> {
    fn problem(&mut self, path: KeyPath, message: impl Into<String>) {
        self.found.push((path, message.into()));
    }

    /// The parsed value, or `fallback` after recording the problem (the fallback is never used: a
    /// config with any problem is refused whole).
    fn check<T>(&mut self, path: &KeyPath, parsed: Result<T, String>, fallback: T) -> T {
        parsed.unwrap_or_else(|message| {
            self.problem(path.clone(), message);
            fallback
        })
    }

    fn duration(&mut self, path: &KeyPath, text: &str, min: Duration, max: Duration) -> Duration {
        let parsed = parse_duration(text).and_then(|d| {
            if d < min {
                Err(format!(
                    "{text} is too short; the least is {}",
                    format_duration(min)
                ))
            } else if d > max {
                Err(format!(
                    "{text} is too long; the most is {}",
                    format_duration(max)
                ))
            } else {
                Ok(d)
            }
        });
        self.check(path, parsed, min)
    }

    fn count(&mut self, path: &KeyPath, value: u64, min: u64, max: u64) -> usize {
        let parsed = if (min..=max).contains(&value) {
            usize::try_from(value).map_err(|_| format!("{value} is too large"))
        } else {
            Err(format!("{value} is out of range; use {min} to {max}"))
        };
        self.check(path, parsed, 1)
    }

    /// A secret from environment variable `var` (which wins) or from the file named at `path`.
    /// Messages name the variable or the file, never the value.
    fn secret(
        &mut self,
        path: &KeyPath,
        file: Option<&str>,
        var: &str,
        valid: fn(&str) -> bool,
        invalid: &str,
    ) -> Option<Secret> {
        if let Some(value) = self.secrets.var(var) {
            let value = Secret::new(value);
            let message = if value.expose().is_empty() {
                "is set but empty; unset it or give the value".to_owned()
            } else if !valid(value.expose()) {
                format!("the value {invalid}")
            } else {
                return Some(value);
            };
            self.environment
                .push(Problem::at("environment", None, var, message));
            return None;
        }
        let file = file?;
        if file.trim().is_empty() {
            self.problem(
                path.clone(),
                "the path cannot be empty; leave the key out (or null) for none",
            );
            return None;
        }
        let message = match self.secrets.read(Path::new(file)) {
            Err(e) => format!("cannot read {file}: {e}"),
            Ok(bytes) => match String::from_utf8(bytes) {
                Err(_) => format!("{file} is not UTF-8 text"),
                Ok(text) => {
                    let value = Secret::new(text);
                    if value.expose().is_empty() {
                        format!("{file} is empty; put the value in it or leave the key out")
                    } else if !valid(value.expose()) {
                        format!("the value in {file} {invalid}")
                    } else {
                        return Some(value);
                    }
                }
            },
        };
        self.problem(path.clone(), message);
        None
    }

    /// Place every problem in the text (one parse for all that concern a value) and sort them as
    /// they appear.
    fn into_error(self, text: &str, origin: &str) -> ConfigError {
        let paths: Vec<KeyPath> = self.found.iter().map(|(path, _)| path.clone()).collect();
        let positions = locate_many(text, &paths);
        let mut placed: Vec<(Position, Problem)> = Vec::new();
        for ((path, message), position) in self.found.into_iter().zip(positions) {
            let position = position.unwrap_or_else(|| place(text, &path));
            let problem = Problem::at(origin, Some(position), path.to_string(), message);
            placed.push((position, problem));
        }
        // Stable: problems at one node keep the order they were found in.
        placed.sort_by_key(|(position, _)| *position);
        let total = placed.len();
        let mut problems: Vec<Problem> =
            placed.into_iter().map(|(_, p)| p).take(MAX_SHOWN).collect();
        if total > MAX_SHOWN {
            problems.push(Problem::at(
                origin,
                None,
                "",
                format!(
                    "{} more problems not shown; fix these first",
                    total - MAX_SHOWN
                ),
            ));
        }
        problems.extend(self.environment);
        ConfigError { problems }
    }
}

/// Where a mapping or sequence at `path` is, or else its nearest ancestor that is in the file (a
/// problem with a defaulted key belongs to the section that left it out). One parse per step: only
/// for the few problems that are not about a value.
fn place(text: &str, path: &KeyPath) -> Position {
    let mut path = path.clone();
    loop {
        if let Some(position) = locate(text, &path) {
            return position;
        }
        if path.is_root() {
            return Position { line: 1, column: 1 };
        }
        path = path.parent();
    }
}
