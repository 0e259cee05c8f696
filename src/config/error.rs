//! Configuration errors: every problem names the file, line, column and key path, all of them at once.
//!
//! `Display` prints one problem per line, `origin:line:column: key.path: what is wrong`, e.g.
//! `config/senderscope.yaml:14:21: domains[0].dkim_selectors: expected a sequence, found string "s1"`,
//! which editors and CI logs turn into links. The text is pinned by the fixtures in
//! `tests/fixtures/config/`.

use std::fmt;

use super::keypath::Position;

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it comes from: the config file's path as given, or `environment` for a variable.
    pub origin: String,
    /// Line, from 1; 0 when the problem concerns the whole source (it could not be read) or a variable.
    pub line: usize,
    /// Column, from 1; 0 with `line`.
    pub column: usize,
    /// Key path (`domains[0].name`), or an environment variable's name; empty for YAML syntax errors.
    pub path: String,
    /// What is wrong, and where it helps, what to write instead. Never contains a secret.
    pub message: String,
}

impl Problem {
    /// A problem at a position in the file.
    pub(crate) fn at(
        origin: &str,
        position: Option<Position>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = position.map_or((0, 0), |p| (p.line, p.column));
        Problem {
            origin: origin.to_owned(),
            line,
            column,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A configuration that was refused, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The problems, in the order they appear in the file (problems without a position last).
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// An error with a single problem.
    pub(crate) fn one(problem: Problem) -> Self {
        ConfigError {
            problems: vec![problem],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Which pass of serde_norway an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Reading the YAML itself (into `IgnoredAny`): the text is not well-formed YAML.
    Syntax,
    /// Reading it into the raw structs: a key or a type does not fit the schema.
    Schema,
}

/// Turn a serde_norway error into a problem: its location, its key path split from its message, and
/// serde's wording made to speak of keys and YAML types rather than fields and Rust types.
pub(crate) fn from_yaml(origin: &str, error: &serde_yaml::Error, pass: Pass) -> Problem {
    let position = error.location().map(|l| Position {
        line: l.line(),
        column: l.column(),
    });
    let mut text = error.to_string();
    if let Some(p) = position {
        // Display appends " at line L column C" (and for a syntax error may go on with a context).
        let suffix = format!(" at line {} column {}", p.line, p.column);
        if let Some(at) = text.find(&suffix) {
            text.replace_range(at..at + suffix.len(), "");
        }
    }
    // Errors about the whole document carry no position; they concern its start.
    let position = position.or(Some(Position { line: 1, column: 1 }));
    if pass == Pass::Syntax {
        let message = if text.contains("more than one document") {
            "the file holds more than one YAML document (a second `---`); keep one".to_owned()
        } else {
            format!("YAML syntax error: {text}")
        };
        return Problem::at(origin, position, "", message);
    }
    let (path, message) = split_path(&text);
    let (path, message) = reword(path, message);
    Problem::at(origin, position, path, message)
}

/// serde_norway writes `path: message`, and just `message` at the document root. A path is made of key
/// names, `.`, and `[n]`: it has no spaces, while every serde message has one before its first colon.
fn split_path(text: &str) -> (String, String) {
    if let Some((head, tail)) = text.split_once(": ") {
        let is_path = !head.is_empty()
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.[]?".contains(c));
        if is_path {
            return (head.to_owned(), tail.to_owned());
        }
    }
    (String::new(), text.to_owned())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The name between the first pair of backticks, and what follows the closing one.
fn backticked(text: &str) -> Option<(&str, &str)> {
    let start = text.find('`')? + 1;
    let len = text[start..].find('`')?;
    Some((&text[start..start + len], &text[start + len + 1..]))
}

/// Every name between backticks.
fn backticked_all(mut text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    while let Some((name, rest)) = backticked(text) {
        names.push(name);
        text = rest;
    }
    names
}

/// The known key closest to a misspelt one, if it is close: at most two edits, and fewer than half
/// the key's letters (so `ab` does not "mean" `dns`).
fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2 && *distance * 2 < key.chars().count())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, by characters (for "did you mean …?" hints: config keys, blocklist zones).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn reword(path: String, message: String) -> (String, String) {
    if let Some(rest) = message.strip_prefix("unknown field ")
        && let Some((key, after)) = backticked(rest)
    {
        let known = backticked_all(after);
        let hint = if known.is_empty() {
            "this section takes no keys".to_owned()
        } else {
            let mut hint = format!("the keys here are {}", known.join(", "));
            if let Some(near) = nearest(key, &known) {
                hint = format!("did you mean {near}? {}", hint.replacen("the", "The", 1));
            }
            hint
        };
        return (join(&path, key), format!("unknown key; {hint}"));
    }
    if let Some(rest) = message.strip_prefix("missing field ")
        && let Some((key, _)) = backticked(rest)
    {
        return (join(&path, key), "required key is missing".to_owned());
    }
    if let Some(rest) = message.strip_prefix("duplicate field ")
        && let Some((key, _)) = backticked(rest)
    {
        return (join(&path, key), "key appears twice".to_owned());
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let found = found.replace("unit value", "null");
        return (path, format!("expected {}, found {found}", plain(expected)));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return (path, format!("expected {}, found {found}", plain(expected)));
    }
    (path, message)
}

/// serde's names for Rust types, in words.
fn plain(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_lines_name_origin_position_and_path() {
        let p = Problem::at(
            "c.yaml",
            Some(Position {
                line: 14,
                column: 5,
            }),
            "domains[0].dkim_selectors",
            "expected a sequence",
        );
        assert_eq!(
            p.to_string(),
            "c.yaml:14:5: domains[0].dkim_selectors: expected a sequence"
        );
        let unread = Problem::at("c.yaml", None, "", "cannot read: gone");
        assert_eq!(unread.to_string(), "c.yaml: cannot read: gone");
        let error = ConfigError {
            problems: vec![p, unread],
        };
        assert_eq!(error.to_string().lines().count(), 2);
    }

    #[test]
    fn misspelt_keys_get_a_suggestion() {
        assert_eq!(edit_distance("listn", "listen"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            nearest("listn", &["listen", "api_token_file"]),
            Some("listen")
        );
        assert_eq!(
            nearest("dkim_selector", &["name", "dkim_selectors"]),
            Some("dkim_selectors")
        );
        assert_eq!(nearest("ab", &["dns"]), None);
        assert_eq!(nearest("ingest", &["server", "state", "dns"]), None);
    }

    #[test]
    fn serde_paths_are_split_from_messages() {
        assert_eq!(
            split_path("domains[0].name: invalid type: map, expected a string"),
            (
                "domains[0].name".into(),
                "invalid type: map, expected a string".into()
            )
        );
        assert_eq!(
            split_path("invalid type: sequence, expected a mapping"),
            (
                String::new(),
                "invalid type: sequence, expected a mapping".into()
            )
        );
    }
}
