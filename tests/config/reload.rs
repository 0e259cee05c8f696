//! Hot reload end to end: a config file in a temporary directory, the debounced directory watcher,
//! the reload task and the watch channel the daemon reads. Editors' ways of saving are replayed with
//! real renames, deletions and writes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use senderscope::config::reload::{
    self, ConfigWatcher, ReloadRequest, ReloadStatus, ReloadTrigger,
};
use senderscope::config::{self, Config, ConfigSource};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Short, so the tests run fast; the daemon uses `reload::DEBOUNCE`.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// How long a change may take to arrive before the test fails (generous: 2 shared cores).
const PATIENCE: Duration = Duration::from_secs(10);

fn config_for(domain: &str) -> String {
    format!("domains:\n  - name: {domain}\n    dkim_selectors: [s1]\n")
}

/// A config file in a temp dir with the reload task and the watcher running on it.
struct Rig {
    _dir: tempfile::TempDir,
    path: PathBuf,
    current: watch::Receiver<Arc<Config>>,
    requests: mpsc::Sender<ReloadRequest>,
    status: ReloadStatus,
    gauge: prometheus::IntGauge,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    watcher: Option<ConfigWatcher>,
}

impl Rig {
    fn start(first_domain: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("senderscope.yaml");
        std::fs::write(&path, config_for(first_domain)).unwrap();
        Rig::run(dir, path)
    }

    fn run(dir: tempfile::TempDir, path: PathBuf) -> Rig {
        let source = ConfigSource::File(path.clone());
        let initial = config::load(&source).unwrap();
        let (sender, current) = watch::channel(Arc::new(initial));
        let (requests, receiver) = mpsc::channel(8);
        let gauge = prometheus::IntGauge::new(
            "senderscope_config_last_reload_successful",
            "Whether the last configuration reload succeeded.",
        )
        .unwrap();
        let status = ReloadStatus::new(gauge.clone());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(reload::run(
            source,
            sender,
            receiver,
            status.clone(),
            shutdown.clone(),
        ));
        let watcher = reload::watch_file_debounced(&path, requests.clone(), DEBOUNCE).unwrap();
        Rig {
            _dir: dir,
            path,
            current,
            requests,
            status,
            gauge,
            shutdown,
            task,
            watcher: Some(watcher),
        }
    }

    fn domain(&self) -> String {
        self.current.borrow().domains[0].name.to_string()
    }

    /// Wait until the running config's first domain is `domain`.
    async fn expect_domain(&mut self, domain: &str) {
        let wait = self
            .current
            .wait_for(|c| c.domains[0].name.as_str() == domain);
        let arrived = matches!(tokio::time::timeout(PATIENCE, wait).await, Ok(Ok(_)));
        if !arrived {
            panic!(
                "config never switched to {domain}; running {}, last error {:?}",
                self.domain(),
                self.status.last_error()
            );
        }
    }

    /// Wait until a reload has been refused.
    async fn expect_refusal(&self) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(error) = self.status.last_error() {
                return error;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no reload was refused"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ask(&self, trigger: ReloadTrigger) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        let request = ReloadRequest {
            trigger,
            reply: Some(reply),
        };
        self.requests.send(request).await.unwrap();
        tokio::time::timeout(PATIENCE, answer)
            .await
            .unwrap()
            .unwrap()
    }

    /// Save the way editors that write a temporary file and rename it over the original do.
    fn save_by_rename(&self, text: &str) {
        let temp = self.path.with_file_name(".senderscope.yaml.tmp");
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, &self.path).unwrap();
    }
}

fn write_in_place(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_reload_survives_rename_and_recreate_and_refuses_bad_configs() {
    let mut rig = Rig::start("a.test");
    assert_eq!(rig.gauge.get(), 1);
    let started = rig.status.last_success_unix().unwrap();

    // An editor that saves by rename replaces the inode: the directory watch still sees it.
    rig.save_by_rename(&config_for("b.test"));
    rig.expect_domain("b.test").await;

    // Deleted, and recreated after the deletion has been debounced on its own.
    std::fs::remove_file(&rig.path).unwrap();
    tokio::time::sleep(DEBOUNCE * 4).await;
    assert_eq!(
        rig.domain(),
        "b.test",
        "a deleted file keeps the running config"
    );
    assert_eq!(
        rig.status.last_error(),
        None,
        "a deletion alone is not a reload"
    );
    write_in_place(&rig.path, &config_for("c.test"));
    rig.expect_domain("c.test").await;
    assert_eq!(rig.gauge.get(), 1);

    // A bad config is refused: the old one keeps running, the gauge drops, the error names the line.
    // (Saved by rename: an in-place write could be read half-done, refused for another reason.)
    rig.current.mark_unchanged();
    rig.save_by_rename("domains:\n  - name: d.test\n    sending_ips: [192.0.2.10/24]\n");
    let error = rig.expect_refusal().await;
    let file = rig.path.display().to_string();
    assert_eq!(
        error,
        format!(
            "{file}:3:19: domains[0].sending_ips[0]: \"192.0.2.10/24\" has host bits set; write 192.0.2.0/24 for the whole network, or 192.0.2.10 for the one address"
        )
    );
    assert_eq!(rig.gauge.get(), 0);
    assert_eq!(rig.domain(), "c.test");
    assert!(
        !rig.current.has_changed().unwrap(),
        "receivers were woken by a refused config"
    );

    // A request with a reply channel (POST /-/reload) gets the same errors.
    assert_eq!(rig.ask(ReloadTrigger::Http).await, Err(error));

    // Fixed: the new config runs, the gauge is back, the error is gone.
    rig.save_by_rename(&config_for("e.test"));
    rig.expect_domain("e.test").await;
    assert_eq!(rig.gauge.get(), 1);
    assert_eq!(rig.status.last_error(), None);
    assert!(rig.status.last_success_unix().unwrap() >= started);

    // A reload of an unchanged file succeeds without waking the receivers.
    rig.current.mark_unchanged();
    assert_eq!(rig.ask(ReloadTrigger::Signal).await, Ok(()));
    assert!(!rig.current.has_changed().unwrap());

    // Dropping the watcher stops it: a later save is not picked up.
    drop(rig.watcher.take());
    rig.save_by_rename(&config_for("f.test"));
    tokio::time::sleep(DEBOUNCE * 8).await;
    assert_eq!(rig.domain(), "e.test");
    assert!(!rig.current.has_changed().unwrap());
    // ...but an explicit request still reads it.
    assert_eq!(rig.ask(ReloadTrigger::Signal).await, Ok(()));
    assert_eq!(rig.domain(), "f.test");

    rig.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), rig.task)
        .await
        .expect("the reload task stops on shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_style_symlink_swap_is_seen() {
    // Kubernetes mounts a ConfigMap as `senderscope.yaml -> ..data/senderscope.yaml` with
    // `..data -> ..<timestamp>/`, and updates it by pointing `..data` at a new directory (a rename of
    // a new symlink over the old one); the file name itself never sees an event.
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("..v1")).unwrap();
    std::fs::write(root.join("..v1/senderscope.yaml"), config_for("a.test")).unwrap();
    symlink("..v1", root.join("..data")).unwrap();
    let path = root.join("senderscope.yaml");
    symlink("..data/senderscope.yaml", &path).unwrap();
    let mut rig = Rig::run(dir, path);
    assert_eq!(rig.domain(), "a.test");

    let root = rig.path.parent().unwrap().to_path_buf();
    std::fs::create_dir(root.join("..v2")).unwrap();
    std::fs::write(root.join("..v2/senderscope.yaml"), config_for("b.test")).unwrap();
    symlink("..v2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    rig.expect_domain("b.test").await;
    rig.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_file_a_symlink_points_to_in_another_directory_reloads() {
    // `/etc/senderscope/senderscope.yaml -> /srv/config/senderscope.yaml`: an edit of the target
    // changes nothing in the link's directory, so the target's directory is watched too.
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let (links, real) = (dir.path().join("etc"), dir.path().join("srv"));
    std::fs::create_dir(&links).unwrap();
    std::fs::create_dir(&real).unwrap();
    let target = real.join("senderscope.yaml");
    std::fs::write(&target, config_for("a.test")).unwrap();
    let path = links.join("senderscope.yaml");
    symlink(&target, &path).unwrap();
    let mut rig = Rig::run(dir, path);
    assert_eq!(rig.domain(), "a.test");
    write_in_place(&target, &config_for("b.test"));
    rig.expect_domain("b.test").await;
    rig.shutdown.cancel();
}

#[tokio::test]
async fn requests_queued_during_a_load_share_one_outcome() {
    let rig = Rig::start("a.test");
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (reply, answer) = oneshot::channel();
        rig.requests
            .send(ReloadRequest {
                trigger: ReloadTrigger::Http,
                reply: Some(reply),
            })
            .await
            .unwrap();
        answers.push(answer);
    }
    for answer in answers {
        assert_eq!(answer.await.unwrap(), Ok(()));
    }
    // Every sender gone (the watcher holds one): the task ends on its own.
    let Rig {
        requests,
        watcher,
        task,
        ..
    } = rig;
    drop((requests, watcher));
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the reload task ends when nobody can send")
        .unwrap();
}
