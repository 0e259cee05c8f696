//! Start, readiness, systemd notifications, graceful stop.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::harness::daemon::{Daemon, TestConfig};

#[test]
fn sigterm_stops_the_daemon_with_exit_0_within_10_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &["a.test", "b.test"]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let mut d = Daemon::start(&path, cfg.port, &[]);
    // Let the first checks run so the stop has jobs and a store to flush.
    d.wait_for("/api/v1/status", Duration::from_secs(20), |r| {
        r.json()["domains"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] != "pending")
    });
    d.signal("TERM");
    let (status, took) = d
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM:\n{}", d.log()));
    assert_eq!(status.code(), Some(0), "{}", d.log());
    assert!(took < Duration::from_secs(10));
    assert!(d.log().contains("senderscope stopped"), "{}", d.log());
    // The store was flushed and checkpointed: no WAL left behind.
    assert!(!dir.path().join("state/senderscope.db-wal").exists());
}

#[test]
fn sigint_stops_the_daemon_too() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &[]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let mut d = Daemon::start(&path, cfg.port, &[]);
    d.signal("INT");
    let (status, _) = d.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn systemd_gets_ready_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let cfg = TestConfig::new(dir.path(), &["a.test"]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let sock = socket_path.to_str().unwrap();
    // WATCHDOG_USEC = 200 ms: pings are due every 100 ms.
    let mut d = Daemon::start(
        &path,
        cfg.port,
        &[("NOTIFY_SOCKET", sock), ("WATCHDOG_USEC", "200000")],
    );
    let mut buf = [0u8; 512];
    let mut messages = Vec::new();
    while messages
        .iter()
        .filter(|m: &&String| m.contains("WATCHDOG=1"))
        .count()
        < 3
    {
        let n = socket.recv(&mut buf).expect("a notification within 5 s");
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(
        messages[0].contains("READY=1"),
        "READY comes first: {messages:?}"
    );
    d.signal("TERM");
    let mut stopping = false;
    while let Ok(n) = socket.recv(&mut buf) {
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "STOPPING=1 sent at shutdown");
    assert_eq!(
        d.wait_exit(Duration::from_secs(10))
            .expect("exits")
            .0
            .code(),
        Some(0)
    );
}

#[test]
fn a_port_in_use_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = TestConfig::new(dir.path(), &[]);
    cfg.port = holder.local_addr().unwrap().port();
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let out = std::process::Command::new(crate::harness::daemon::binary())
        .args(["serve", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("listening on 127.0.0.1:{}", cfg.port)),
        "{stderr}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &["a.test"]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let mut d = Daemon::start_with(&path, cfg.port, &[], &["--log-format", "json"]);
    assert_eq!(d.get("/api/v1/status").status, 200);
    d.signal("TERM");
    assert_eq!(
        d.wait_exit(Duration::from_secs(10))
            .expect("exits")
            .0
            .code(),
        Some(0)
    );
    let log = d.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let ready = lines
        .iter()
        .find(|l| l["message"] == "senderscope is ready")
        .unwrap_or_else(|| panic!("no ready line in {log}"));
    assert_eq!(ready["level"], "INFO");
    assert_eq!(ready["domains"], 1);
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "request answered" && l["route"] == "/api/v1/status")
    );
}
