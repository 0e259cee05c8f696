//! The bearer-token layer on write endpoints, against the real daemon.

use crate::harness::daemon::{Daemon, TestConfig};

#[test]
fn write_endpoints_need_the_configured_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("api-token");
    std::fs::write(&token, "correct-horse\n").unwrap();
    let mut cfg = TestConfig::new(dir.path(), &["a.test"]);
    cfg.token_file = Some(token);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);

    let none = d.request("POST", "/-/reload", &[], b"");
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["error"]["code"], "unauthorized");
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );

    let wrong = d.request(
        "POST",
        "/-/reload",
        &[("Authorization", "Bearer correct-horsE")],
        b"",
    );
    assert_eq!(wrong.status, 401);
    assert!(
        !wrong.body.contains("correct-horse"),
        "no secret in a response"
    );

    let basic = d.request(
        "POST",
        "/-/reload",
        &[("Authorization", "Basic Y29ycmVjdC1ob3JzZQ==")],
        b"",
    );
    assert_eq!(basic.status, 401);

    let right = d.request(
        "POST",
        "/-/reload",
        &[("Authorization", "Bearer correct-horse")],
        b"",
    );
    assert_eq!(right.status, 200, "{}", right.body);
    assert!(
        !d.log().contains("correct-horse"),
        "the token never reaches the log"
    );
}

#[test]
fn without_a_token_file_write_endpoints_are_off() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &["a.test"]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    for auth in [None, Some("Bearer anything"), Some("Bearer ")] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
        let r = d.request("POST", "/-/reload", &headers, b"");
        assert_eq!(r.status, 403, "{auth:?}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], "write_disabled");
    }
    // Read endpoints stay open.
    assert_eq!(d.get("/api/v1/status").status, 200);
}
