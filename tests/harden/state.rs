//! The state file as a careless operator leaves it: damaged before the start, damaged while the daemon
//! runs, shared by two daemons. Each against the daemon binary.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::daemon::{Daemon, TestConfig, binary};

fn config(dir: &Path, domains: &[&str]) -> (TestConfig, std::path::PathBuf) {
    let config = TestConfig::new(dir, domains);
    let path = dir.join("senderscope.yaml");
    config.write(&path);
    (config, path)
}

/// Overwrite the database from its second page on with garbage (the first page, the header, stays).
fn damage(db: &Path) {
    let len = std::fs::metadata(db).unwrap().len();
    assert!(
        len > 8192,
        "the database is too small to damage: {len} bytes"
    );
    let mut f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    f.seek(SeekFrom::Start(4096)).unwrap();
    let garbage: Vec<u8> = (0..len - 4096).map(|i| (i * 7 + 13) as u8).collect();
    f.write_all(&garbage).unwrap();
    f.sync_all().unwrap();
}

/// `serve -c config` expected to refuse to start: its exit status and stderr.
fn refused_start(config: &Path) -> (bool, String) {
    let mut child = Command::new(binary())
        .args(["serve", "-c"])
        .arg(config)
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn senderscope");
    for _ in 0..200 {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("senderscope kept running on a state file it should have refused");
}

#[test]
fn a_damaged_state_file_is_refused_at_start_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, path) = config(dir.path(), &["example.com"]);
    let mut d = Daemon::start(&path, cfg.port, &[]);
    d.signal("TERM");
    d.wait_exit(Duration::from_secs(15)).expect("stops");
    damage(&cfg.state);
    let (ok, stderr) = refused_start(&path);
    assert!(!ok, "started on a damaged file:\n{stderr}");
    assert!(
        stderr.contains("the database file is damaged")
            && stderr.contains("move the file (and its -wal and -shm files) aside"),
        "{stderr}"
    );
}

#[test]
fn a_state_file_damaged_at_run_time_makes_readyz_fail_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, path) = config(dir.path(), &["example.com", "example.org"]);
    // A first run stores results and, stopping, folds the WAL into the file; the second runs on it.
    let mut first = Daemon::start(&path, cfg.port, &[]);
    std::thread::sleep(Duration::from_secs(2));
    first.signal("TERM");
    first.wait_exit(Duration::from_secs(15)).expect("stops");
    let d = Daemon::start(&path, cfg.port, &[]);
    damage(&cfg.state);
    let r = d.wait_for("/readyz", Duration::from_secs(30), |r| r.status == 503);
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("the state store cannot commit: the database file is damaged"),
        "{message}"
    );
}

#[test]
fn a_second_daemon_on_the_same_state_file_exits_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, path) = config(dir.path(), &[]);
    let first = Daemon::start(&path, cfg.port, &[]);
    let mut second = cfg.clone();
    second.port = crate::harness::free_port();
    let second_path = dir.path().join("second.yaml");
    second.write(&second_path);
    let (ok, stderr) = refused_start(&second_path);
    assert!(!ok, "a second daemon started:\n{stderr}");
    assert!(
        stderr.contains("another senderscope is already using this state file"),
        "{stderr}"
    );
    // The first one is untouched.
    assert_eq!(first.get("/readyz").status, 200);
    // Once it stops (even by SIGKILL), the lock is gone with it.
    first.kill();
    let _third = Daemon::start(&second_path, second.port, &[]);
}

#[test]
fn a_clean_stop_is_marked_for_the_next_start_and_the_mark_is_used_once() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, path) = config(dir.path(), &["example.com"]);
    let marker = {
        let mut name = cfg.state.as_os_str().to_owned();
        name.push(".clean");
        std::path::PathBuf::from(name)
    };
    let mut first = Daemon::start(&path, cfg.port, &[]);
    assert!(!marker.exists(), "a running daemon has not stopped cleanly");
    first.signal("TERM");
    first.wait_exit(Duration::from_secs(15)).expect("stops");
    assert!(marker.exists(), "a clean stop leaves its marker");
    // The next start believes it once (and still checks the file, in the background).
    let second = Daemon::start(&path, cfg.port, &[]);
    assert!(!marker.exists(), "the marker is used up at start");
    assert_eq!(second.get("/readyz").status, 200);
    // A kill leaves no marker: the start after it checks the file in full.
    second.kill();
    assert!(!marker.exists());
}
