//! One reload path: a refused config changes nothing and says why; SIGHUP and POST /-/reload reload.

use std::time::Duration;

use crate::harness::daemon::{Daemon, Reply, TestConfig};

/// The configured domains listed by `/api/v1/status`, sorted (the API sorts worst first).
fn domains(status: &Reply) -> Vec<String> {
    let mut out: Vec<String> = status.json()["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn gauge(d: &Daemon, expected: &str) -> bool {
    let line = format!("senderscope_config_last_reload_successful {expected}\n");
    d.wait_for("/metrics", Duration::from_secs(5), |r| {
        r.body.contains(&line)
    });
    true
}

#[test]
fn an_invalid_reload_keeps_the_old_config_running() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("api-token");
    std::fs::write(&token, "t0ken").unwrap();
    let mut cfg = TestConfig::new(dir.path(), &["old.test"]);
    cfg.token_file = Some(token);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    let auth = [("Authorization", "Bearer t0ken")];

    // Line 3 holds a type error (a number where a sequence belongs).
    let mut bad = cfg.yaml();
    bad = bad.replace(
        "domains:\n",
        "domains:\n  - name: new.test\n    dkim_selectors: 5\n",
    );
    std::fs::write(&path, &bad).unwrap();
    let line = bad
        .lines()
        .position(|l| l.contains("dkim_selectors: 5"))
        .unwrap()
        + 1;
    let r = d.request("POST", "/-/reload", &auth, b"");
    assert_eq!(r.status, 400, "{}", r.body);
    let body = r.json();
    assert_eq!(body["error"]["code"], "config_invalid");
    let first = body["error"]["errors"][0].as_str().unwrap().to_owned();
    assert!(
        first.starts_with(&format!("{}:{line}:", path.display()))
            && first.contains("domains[0].dkim_selectors"),
        "error names file, line and key: {first}"
    );

    let status = d.get("/api/v1/status");
    let json = status.json();
    assert_eq!(json["config"]["last_reload_successful"], false);
    assert!(
        json["config"]["last_error"]
            .as_str()
            .unwrap()
            .contains("dkim_selectors")
    );
    assert_eq!(
        domains(&status),
        ["old.test"],
        "the old config keeps running"
    );
    assert!(gauge(&d, "0"));
    assert!(
        d.log().contains("configuration reload refused"),
        "{}",
        d.log()
    );

    // A good file is taken, and the failure is cleared.
    cfg.domains.push(("new.test".into(), vec![]));
    cfg.write(&path);
    let r = d.request("POST", "/-/reload", &auth, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let status = d.get("/api/v1/status");
    assert_eq!(domains(&status), ["new.test", "old.test"]);
    assert_eq!(status.json()["config"]["last_reload_successful"], true);
    assert!(gauge(&d, "1"));
}

#[test]
fn sighup_reloads_the_config() {
    // The file watcher follows the file (symlinks included), so SIGHUP is told apart by the trigger the
    // reload task logs: a reload with `triggers=[Signal]` after the signal, none before it.
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &["first.test"]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!d.log().contains("triggers=[Signal]"), "{}", d.log());
    d.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !d.log().contains("triggers=[Signal]") {
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP did not reload: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(d.log().contains("configuration reloaded"), "{}", d.log());
    assert_eq!(domains(&d.get("/api/v1/status")), ["first.test"]);
}

#[test]
fn editing_the_file_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestConfig::new(dir.path(), &["first.test"]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    // Save the way editors do: write a new file, rename it over the old one.
    cfg.domains.push(("second.test".into(), vec![]));
    let tmp = dir.path().join(".config.yaml.swp");
    cfg.write(&tmp);
    std::fs::rename(&tmp, &path).unwrap();
    d.wait_for("/api/v1/status", Duration::from_secs(10), |r| {
        domains(r).len() == 2
    });
}
