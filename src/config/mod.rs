//! Configuration: YAML read into serde structs (`raw`), validated into runtime types (`model`) with every
//! error named by file, line, column and key path (`validate`, `locate`, `error`), reloaded through one
//! task (`reload`); secrets are a type that cannot be printed (`secret`).
//!
//! - [`default_source`] picks the file, [`load`] reads and validates it, [`load_str`] validates text.
//! - Humane values: [`parse_duration`] (`15m`, `1h30m`, `400d`), sizes (`10MiB`) in `size`.
//! - Relative paths in the config (`state.path`, `*_file`) are relative to the process's working
//!   directory, not to the config file: the embedded default has no directory of its own.

mod depth;
mod duration;
mod error;
mod keypath;
mod locate;
mod model;
mod net;
mod raw;
pub mod reload;
mod secret;
mod size;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use duration::{format_duration, parse_duration};
pub(crate) use error::edit_distance;
pub use error::{ConfigError, Problem};
pub use model::*;
pub use secret::Secret;

use secret::{SecretSource, SystemSecrets};

/// The bundled, annotated default configuration (`config/senderscope.yaml`), compiled in so the daemon
/// runs with no file at all.
pub const EMBEDDED: &str = include_str!("../../config/senderscope.yaml");

/// The name the embedded config goes by in messages.
pub const EMBEDDED_ORIGIN: &str = "embedded:config/senderscope.yaml";

/// The largest config file read. A config is a few kilobytes; the YAML parser is translated C, so
/// it is not handed arbitrary amounts of input (and placing each problem re-parses the text).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A YAML file.
    File(PathBuf),
    /// The compiled-in copy of `config/senderscope.yaml`.
    Embedded,
}

impl ConfigSource {
    /// The file, if the source is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::File(path) => Some(path),
            ConfigSource::Embedded => None,
        }
    }
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File(path) => write!(f, "{}", path.display()),
            ConfigSource::Embedded => f.write_str(EMBEDDED_ORIGIN),
        }
    }
}

/// The lookup order (README, "Configuration"): `$SENDERSCOPE_CONFIG` if set (even when the file is missing: then loading says so),
/// else `./config/senderscope.yaml` if it exists, else `/etc/senderscope/senderscope.yaml` if it
/// exists, else the embedded default.
pub fn default_source() -> ConfigSource {
    if let Some(path) = std::env::var_os("SENDERSCOPE_CONFIG").filter(|p| !p.is_empty()) {
        return ConfigSource::File(PathBuf::from(path));
    }
    [
        "config/senderscope.yaml",
        "/etc/senderscope/senderscope.yaml",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.is_file())
    .map_or(ConfigSource::Embedded, ConfigSource::File)
}

/// Read, parse and validate a configuration, reading its secret files and variables.
pub fn load(source: &ConfigSource) -> Result<Config, ConfigError> {
    load_with(source, &SystemSecrets)
}

/// Parse and validate configuration text; `origin` names it in messages (the file's path). Secret
/// files and variables are read as by [`load`].
pub fn load_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    load_str_with(text, origin, &SystemSecrets)
}

pub(crate) fn load_with(
    source: &ConfigSource,
    secrets: &dyn SecretSource,
) -> Result<Config, ConfigError> {
    match source {
        ConfigSource::Embedded => load_str_with(EMBEDDED, EMBEDDED_ORIGIN, secrets),
        ConfigSource::File(path) => {
            let origin = path.display().to_string();
            let text = read_capped(path)
                .map_err(|message| ConfigError::one(Problem::at(&origin, None, "", message)))?;
            load_str_with(&text, &origin, secrets)
        }
    }
}

pub(crate) fn load_str_with(
    text: &str,
    origin: &str,
    secrets: &dyn SecretSource,
) -> Result<Config, ConfigError> {
    // A UTF-8 byte order mark (some Windows editors write one) is not content: YAML 1.2 §5.2 allows
    // it at the start of a stream, and columns are counted after it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(at) = depth::too_deep(text) {
        return Err(ConfigError::one(Problem::at(
            origin,
            Some(at),
            "",
            format!(
                "nested more than {} levels deep; a senderscope configuration needs a few",
                depth::MAX_DEPTH
            ),
        )));
    }
    // Syntax first: serde_norway deserializes while it parses, so a type error early in the file
    // would otherwise hide a syntax error further down, which is the one to fix first.
    serde_yaml::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| ConfigError::one(error::from_yaml(origin, &e, error::Pass::Syntax)))?;
    let raw: raw::RawConfig = serde_yaml::from_str(text)
        .map_err(|e| ConfigError::one(error::from_yaml(origin, &e, error::Pass::Schema)))?;
    validate::validate(raw, text, origin, secrets)
}

fn read_capped(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err("larger than 1 MiB; a configuration is a few kilobytes".into());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}
