//! Whole-config tests: the invalid fixtures with their exact messages, the bundled config and examples,
//! secrets from files and the environment, reading files.
//!
//! `tests/fixtures/config/invalid-<case>.yaml` sits beside `invalid-<case>.expected`, the exact
//! `Display` of the refusal. After an intended change of wording, regenerate them with
//! `UPDATE_EXPECT=1 cargo test --lib config::tests` and review the diff.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::secret::{SecretSource, SystemSecrets};
use super::*;

/// Pinned environment variables over the real filesystem: the tests do not depend on (or change)
/// the environment they run in.
#[derive(Default)]
struct PinnedEnv(HashMap<&'static str, String>);

impl PinnedEnv {
    fn with(name: &'static str, value: &str) -> Self {
        PinnedEnv(HashMap::from([(name, value.to_owned())]))
    }
}

impl SecretSource for PinnedEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        SystemSecrets.read(path)
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_text(text: &str, env: &PinnedEnv) -> Result<Config, ConfigError> {
    load_str_with(text, "c.yaml", env)
}

#[test]
fn invalid_fixtures_give_their_exact_messages() {
    let dir = repo().join("tests/fixtures/config");
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("invalid-") && name.ends_with(".yaml")
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 12, "fixtures missing: {cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let origin = case
            .strip_prefix(repo())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(case).unwrap();
        let actual = match load_str_with(&text, &origin, &PinnedEnv::default()) {
            Ok(_) => "(loaded without error)\n".to_owned(),
            Err(error) => format!("{error}\n"),
        };
        let expected_path = case.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{origin}\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ (UPDATE_EXPECT=1 regenerates after an intended change):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn bundled_config_and_every_example_validate() {
    let mut files = vec![repo().join("config/senderscope.yaml")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo().join("config/examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 2, "examples missing: {examples:?}");
    files.extend(examples);
    for file in files {
        let source = ConfigSource::File(file.clone());
        if let Err(error) = load_with(&source, &PinnedEnv::default()) {
            panic!("{} does not validate:\n{error}", file.display());
        }
    }
    let embedded = load_with(&ConfigSource::Embedded, &PinnedEnv::default()).unwrap();
    assert_eq!(embedded.domains[0].name.as_str(), "example.com");
}

#[test]
fn bundled_config_states_the_code_defaults() {
    let bundled = load_with(&ConfigSource::Embedded, &PinnedEnv::default()).unwrap();
    let defaults = load_text("domains: []\n", &PinnedEnv::default()).unwrap();
    assert_eq!(bundled.server, defaults.server);
    assert_eq!(bundled.state, defaults.state);
    assert_eq!(bundled.dns, defaults.dns);
    assert_eq!(bundled.schedule, defaults.schedule);
    assert_eq!(bundled.blocklists, defaults.blocklists);
    assert_eq!(bundled.events, defaults.events);
    assert_eq!(
        defaults.events,
        crate::events::settings::EventSettings::default()
    );
    assert_eq!(bundled.alerts, defaults.alerts);
    assert_eq!(defaults.alerts, crate::alerts::AlertSettings::default());
    assert_eq!(bundled.ingest, defaults.ingest);
    assert_eq!(defaults.ingest.limits, crate::ingest::Limits::default());
    // The DNS layer's own defaults agree with the config's.
    assert_eq!(defaults.dns, crate::dns::DnsSettings::default());
    let domain = &bundled.domains[0];
    assert_eq!(domain.dkim_selectors, ["s1"]);
    assert_eq!(
        domain
            .single_ips()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>(),
        ["192.0.2.10"]
    );
}

#[test]
fn a_full_config_becomes_typed_values() {
    let text = "\
server: {listen: \"[::1]:8080\", max_body_bytes: 512KiB, request_timeout: 1m}
state: {path: /var/lib/senderscope/state.db, retention: 2w}
dns: {nameservers: [\"127.0.0.1:5300\", \"[::1]:53\", 9.9.9.9], timeout: 1500ms, attempts: 3, concurrency: 8}
schedule: {checks: 1h30m, blocklists: 2h, jitter: 0, concurrency: 4, job_timeout: 90s}
domains:
  - name: Shop.Example.
    dkim_selectors: [S1, google, 2024]
    sending_ips: [192.0.2.10, \"2001:db8::/126\"]
  - name: b.test
blocklists:
  defaults: false
  enable: [b.barracudacentral.org]
  disable: [psbl.surriel.com]
  extra:
    - zone: bl.example.net
      kind: ip
      listed: [127.0.0.2, 127.0.0.10-127.0.0.11, 127.0.1.0/24]
      delist_url: https://example.net/removal
    - {zone: dbl.example.net, name: Example DBL, kind: domain, refused: []}
  max_range_addresses: 16
";
    let c = load_text(text, &PinnedEnv::default()).unwrap();
    assert_eq!(c.server.listen.to_string(), "[::1]:8080");
    assert_eq!(c.server.max_body_bytes, 512 * 1024);
    assert_eq!(c.server.request_timeout.as_secs(), 60);
    assert_eq!(c.server.api_token, None);
    assert_eq!(c.state.retention.as_secs(), 14 * 86_400);
    let ns: Vec<String> = c.dns.nameservers.iter().map(|a| a.to_string()).collect();
    assert_eq!(ns, ["127.0.0.1:5300", "[::1]:53", "9.9.9.9:53"]);
    assert_eq!(c.dns.timeout.as_millis(), 1500);
    assert_eq!((c.dns.attempts, c.dns.concurrency.get()), (3, 8));
    assert_eq!(c.schedule.checks.as_secs(), 5400);
    assert_eq!(c.schedule.jitter, 0.0);
    assert_eq!(c.domains[0].name.as_str(), "shop.example");
    assert_eq!(c.domains[0].dkim_selectors, ["s1", "google", "2024"]);
    assert_eq!(c.domains[0].sending_ips[1].to_string(), "2001:db8::/126");
    assert!(c.domains[1].dkim_selectors.is_empty());
    let extra = &c.blocklists.extra;
    assert_eq!(
        (extra[0].name.as_str(), extra[0].kind),
        ("bl.example.net", ZoneKind::Ip)
    );
    assert_eq!(extra[0].listed.len(), 3);
    // Refusal codes default to the generic ones; an explicit [] means none.
    assert_eq!(extra[0].refused.len(), 2);
    assert!(
        extra[0]
            .refused
            .iter()
            .any(|r| r.contains("127.255.255.254".parse().unwrap()))
    );
    assert!(extra[1].refused.is_empty());
    assert_eq!(
        (extra[1].name.as_str(), extra[1].kind),
        ("Example DBL", ZoneKind::Domain)
    );
    assert_eq!(c.blocklists.max_range_addresses, 16);
}

#[test]
fn keys_without_values_mean_their_defaults() {
    let c = load_text(
        "server:\ndns:\n  nameservers:\ndomains:\n",
        &PinnedEnv::default(),
    )
    .unwrap();
    let defaults = load_text("domains: []", &PinnedEnv::default()).unwrap();
    assert_eq!(c, defaults);
    assert!(c.domains.is_empty());
}

#[test]
fn secrets_come_from_files_and_environment_variables_replace_them() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("api-token");
    std::fs::write(&token, "file-token-123\n").unwrap();
    let key = dir.path().join("dqs-key");
    std::fs::write(&key, "abc123").unwrap();
    let text = format!(
        "server: {{api_token_file: {}}}\nblocklists: {{spamhaus_dqs_key_file: {}}}\ndomains: []\n",
        token.display(),
        key.display()
    );
    let c = load_text(&text, &PinnedEnv::default()).unwrap();
    assert_eq!(
        c.server.api_token.as_ref().map(Secret::expose),
        Some("file-token-123")
    );
    assert_eq!(
        c.blocklists.spamhaus_dqs_key.as_ref().map(Secret::expose),
        Some("abc123")
    );

    let env = PinnedEnv::with("SENDERSCOPE_API_TOKEN", "env-token-456");
    let c = load_text(&text, &env).unwrap();
    assert_eq!(
        c.server.api_token.as_ref().map(Secret::expose),
        Some("env-token-456")
    );

    // The variable alone turns the token on; the file is not needed.
    let env = PinnedEnv::with("SENDERSCOPE_SPAMHAUS_DQS_KEY", "key789");
    let c = load_text("domains: []", &env).unwrap();
    assert_eq!(
        c.blocklists.spamhaus_dqs_key.as_ref().map(Secret::expose),
        Some("key789")
    );
}

#[test]
fn secret_problems_name_the_key_and_file_but_never_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("api-token");
    std::fs::write(&token, "hunter2 with spaces\n").unwrap();
    let empty = dir.path().join("empty-key");
    std::fs::write(&empty, "\n").unwrap();
    let text = format!(
        "server:\n  api_token_file: {}\nblocklists:\n  spamhaus_dqs_key_file: {}\ndomains: []\n",
        token.display(),
        empty.display()
    );
    let error = load_text(&text, &PinnedEnv::default())
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert!(
        lines[0].starts_with("c.yaml:2:19: server.api_token_file: the value in "),
        "{error}"
    );
    assert!(lines[0].contains(&token.display().to_string()));
    assert!(
        lines[1].starts_with("c.yaml:4:26: blocklists.spamhaus_dqs_key_file: "),
        "{error}"
    );
    assert!(lines[1].ends_with("empty-key is empty; put the value in it or leave the key out"));
    assert!(!error.contains("hunter2"));

    let env = PinnedEnv::with("SENDERSCOPE_API_TOKEN", "");
    let error = load_text("domains: []", &env).unwrap_err().to_string();
    assert_eq!(
        error,
        "environment: SENDERSCOPE_API_TOKEN: is set but empty; unset it or give the value"
    );
    let env = PinnedEnv::with("SENDERSCOPE_SPAMHAUS_DQS_KEY", "s3cret.key");
    let error = load_text("domains: []", &env).unwrap_err().to_string();
    assert!(
        error.starts_with("environment: SENDERSCOPE_SPAMHAUS_DQS_KEY: the value is not"),
        "{error}"
    );
    assert!(!error.contains("s3cret"));
}

#[test]
fn unreadable_config_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let error = load(&ConfigSource::File(missing.clone())).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: cannot read: No such file or directory (os error 2)",
            missing.display()
        )
    );

    let big = dir.path().join("big.yaml");
    std::fs::write(&big, "#".repeat(MAX_CONFIG_BYTES as usize + 1)).unwrap();
    let error = load(&ConfigSource::File(big)).unwrap_err().to_string();
    assert!(
        error.ends_with("larger than 1 MiB; a configuration is a few kilobytes"),
        "{error}"
    );

    let binary = dir.path().join("binary.yaml");
    std::fs::write(&binary, b"domains: []\n\xff\xfe").unwrap();
    let error = load(&ConfigSource::File(binary)).unwrap_err().to_string();
    assert!(
        error.ends_with("not UTF-8 text (invalid byte at offset 12)"),
        "{error}"
    );
}

#[test]
fn many_problems_are_capped_with_a_count() {
    let mut text = String::from("domains:\n  - name: a.test\n    sending_ips:\n");
    for i in 0..130 {
        text.push_str(&format!("      - bad{i}\n"));
    }
    let error = load_text(&text, &PinnedEnv::default()).unwrap_err();
    assert_eq!(error.problems.len(), 101);
    assert_eq!(error.problems[0].line, 4);
    assert_eq!(error.problems[99].line, 103);
    assert_eq!(
        error.problems[100].to_string(),
        "c.yaml: 30 more problems not shown; fix these first"
    );
}

#[test]
fn default_source_finds_the_bundled_file_from_the_repository() {
    // cargo runs tests in the package root, where ./config/senderscope.yaml exists. The variable is
    // only read, never set, so this cannot disturb tests running in parallel.
    let expected = match std::env::var_os("SENDERSCOPE_CONFIG").filter(|p| !p.is_empty()) {
        Some(path) => ConfigSource::File(path.into()),
        None => ConfigSource::File("config/senderscope.yaml".into()),
    };
    assert_eq!(default_source(), expected);
}

#[test]
fn a_utf8_byte_order_mark_is_accepted() {
    let text = "\u{feff}domains:\n  - name: example.com\n";
    let config = load_text(text, &PinnedEnv::default()).expect("a BOM is not a second document");
    assert_eq!(config.domains[0].name.as_str(), "example.com");
}

#[test]
fn a_byte_order_mark_does_not_shift_positions() {
    let text = "\u{feff}domains:\n  - name: -bad-.test\n";
    let e = load_text(text, &PinnedEnv::default()).unwrap_err();
    assert!(
        e.to_string().starts_with("c.yaml:2:11: domains[0].name:"),
        "{e}"
    );
}

#[test]
fn nesting_past_the_bound_is_refused_before_parsing() {
    // A megabyte of `[`: refused by the pre-scan with a position, not by the parser (72 s before).
    let text = format!("domains: {}", "[".repeat(1 << 20));
    let e = load_text(&text, &PinnedEnv::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "c.yaml:1:73: nested more than 64 levels deep; a senderscope configuration needs a few"
    );
}
