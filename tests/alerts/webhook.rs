//! Webhook delivery with retry and backoff: a receiver that fails twice and then accepts gets the
//! alert on the third attempt, and the failures are counted, not fatal.

use std::time::Duration;

use serde_json::Value;

use super::receiver::Receiver;
use super::{config, ip4set};
use crate::harness::daemon::Daemon;
use crate::harness::free_port;
use crate::harness::rbldnsd::Rbldnsd;

#[tokio::test]
async fn webhook_delivery_retries_until_the_receiver_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let dns_port = free_port();
    let _rbl = Rbldnsd::serve_on(
        dns_port,
        &[ip4set(dir.path(), "listed.txt", &["192.0.2.10"])],
        "ip.bl.test",
    )
    .await;
    let hook = Receiver::start(&[503, 500]);
    let url_file = dir.path().join("hook-url");
    std::fs::write(&url_file, hook.url()).unwrap();
    let alerts = format!(
        "  webhooks:\n    - name: ops\n      url_file: {}\n      retry_initial: 100ms\n      retry_max: 400ms\n",
        url_file.display()
    );
    let (cfg, path) = config(dir.path(), dns_port, &alerts);
    let d = Daemon::start(&path, cfg.port, &[]);

    let requests = hook.wait_for(Duration::from_secs(20), |r| {
        r.iter().any(|(s, _)| *s == 200)
    });
    let statuses: Vec<u16> = requests.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [503, 500, 200]);
    for (_, body) in &requests {
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["version"], "1");
        assert_eq!(body["status"], "firing");
        assert_eq!(
            body["alert"]["labels"]["alertname"],
            "SenderscopeBlocklistListed"
        );
        assert_eq!(body["alert"]["labels"]["target"], "192.0.2.10");
    }
    let metrics = d.wait_for("/metrics", Duration::from_secs(5), |r| {
        r.value("senderscope_alert_notifier_up{notifier=\"ops\"}") == Some(1.0)
    });
    assert_eq!(
        metrics.value("senderscope_alert_notifications_total{notifier=\"ops\",result=\"failed\"}"),
        Some(2.0)
    );
    assert_eq!(
        metrics.value("senderscope_alert_notifications_total{notifier=\"ops\",result=\"ok\"}"),
        Some(1.0)
    );
    let log = d.log();
    assert_eq!(
        log.matches("alert notifier is down").count(),
        1,
        "one line when it went down, not one per retry:\n{log}"
    );
    assert!(log.contains("alert notifier is back"), "{log}");
    assert!(
        !log.contains("s3cr3t-token"),
        "the URL's token is never logged:\n{log}"
    );
    // Delivered once: no further posts while it keeps firing.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(hook.requests().len(), 3);
}
