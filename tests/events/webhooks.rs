//! Webhook signatures accepted and refused per provider, through the real router (`oneshot`), with
//! keys and certificates made by `openssl` for each test. SES notifications come through SNS: the
//! signing certificate is served over HTTPS by the loopback server of `harness/https.rs` (under the
//! SNS host name, with a test CA the verifier's client trusts).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use aws_lc_rs::hmac;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use senderscope::config::load_str;
use senderscope::config::reload::ReloadStatus;
use senderscope::events::store::{EventStore, LazyEventStore};
use senderscope::events::webhooks::sns::Verifier;
use senderscope::http::AppState;
use senderscope::http::events::EventsState;
use senderscope::metrics::Metrics;
use senderscope::store::SqliteStore;

use crate::harness::https::{HttpsServer, Reply, TestCa};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ses-events";
const SNS_HOST: &str = "sns.us-east-1.amazonaws.com";

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Sign `data` with the PEM key `key` and `digest` (sha1, sha256); DER signature.
fn sign(dir: &Path, key: &str, digest: &str, data: &[u8]) -> Vec<u8> {
    std::fs::write(dir.join("data"), data).unwrap();
    openssl(
        dir,
        &[
            "dgst",
            &format!("-{digest}"),
            "-sign",
            key,
            "-out",
            "sig",
            "data",
        ],
    );
    std::fs::read(dir.join("sig")).unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
    app: axum::Router,
    db: std::path::PathBuf,
}

impl Fixture {
    fn store(&self) -> EventStore {
        EventStore::open(&self.db).unwrap()
    }

    fn total(&self) -> u64 {
        self.store()
            .sums(0, i64::MAX / 120)
            .unwrap()
            .iter()
            .map(|s| s.count)
            .sum()
    }

    async fn post(
        &self,
        uri: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = Request::post(uri);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let response = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// A router for `events_yaml` (the `events:` section, with `{dir}` replaced by the temp dir).
async fn fixture(events_yaml: &str, setup: impl FnOnce(&Path), sns: Verifier) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let db = dir.path().join("state.db");
    let yaml = format!(
        "server: {{ api_token_file: {d}/token }}\nstate: {{ path: {db} }}\ndomains:\n  - name: shop.example\nevents:\n{}",
        events_yaml.replace("{dir}", &dir.path().display().to_string()),
        d = dir.path().display(),
        db = db.display()
    );
    std::fs::write(dir.path().join("token"), "t0ken").unwrap();
    let config = load_str(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let metrics = Arc::new(Metrics::new().unwrap());
    let results = Arc::new(senderscope::results::Results::new(store, &config));
    let (_tx, config) = watch::channel(Arc::new(config));
    let (reload, _rx) = mpsc::channel(1);
    let status = ReloadStatus::new(metrics.config_last_reload_successful.clone());
    let state = AppState::new(config, results, metrics, reload, status);
    let events = EventsState::with_parts(&state, Arc::new(LazyEventStore::new(&db)), sns);
    let app = senderscope::http::webhooks::router(events.clone())
        .merge(senderscope::http::events::router(events))
        .with_state(state);
    Fixture { dir, app, db }
}

fn default_sns() -> Verifier {
    Verifier::with_default_client().unwrap()
}

#[tokio::test]
async fn sendgrid_signatures_are_checked_over_timestamp_and_raw_body() {
    let f = fixture(
        "  webhooks:\n    sendgrid: { public_key_file: \"{dir}/sg.pub\" }\n",
        |d| {
            openssl(
                d,
                &[
                    "ecparam",
                    "-name",
                    "prime256v1",
                    "-genkey",
                    "-noout",
                    "-out",
                    "sg.key",
                ],
            );
            let der = openssl(d, &["ec", "-in", "sg.key", "-pubout", "-outform", "DER"]);
            std::fs::write(d.join("sg.pub"), B64.encode(der)).unwrap();
        },
        default_sns(),
    )
    .await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = json!([
        {"email": "bob@gmail.com", "event": "delivered", "sg_event_id": "e1", "timestamp": now},
        {"email": "ann@gmail.com", "event": "bounce", "type": "bounce", "status": "5.1.1",
         "reason": "550 5.1.1 The email account that you tried to reach does not exist.", "sg_event_id": "e2", "timestamp": now},
        {"email": "q@yahoo.com", "event": "spamreport", "sg_event_id": "e3", "timestamp": now},
        {"email": "x@gmail.com", "event": "dropped", "reason": "Bounced Address", "sg_event_id": "e4", "timestamp": now}
    ])
    .to_string()
    .into_bytes();
    let ts = now.to_string();
    let mut signed = ts.clone().into_bytes();
    signed.extend(&body);
    let sig = B64.encode(sign(f.dir.path(), "sg.key", "sha256", &signed));
    let headers = |sig: &str| {
        vec![
            ("x-twilio-email-event-webhook-signature", sig.to_owned()),
            ("x-twilio-email-event-webhook-timestamp", ts.clone()),
        ]
    };
    // Tampered body: 401 and nothing stored.
    let mut tampered = body.clone();
    tampered[3] ^= 1;
    let (status, _) = f
        .post(
            "/webhooks/sendgrid?domain=shop.example",
            &headers(&sig),
            tampered,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = f.post("/webhooks/sendgrid", &[], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(f.total(), 0);
    let (status, reply) = f
        .post(
            "/webhooks/sendgrid?domain=shop.example",
            &headers(&sig),
            body.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"counted": 3, "duplicates": 0}));
    // A retry of the same batch counts nothing twice.
    let (_, reply) = f
        .post(
            "/webhooks/sendgrid?domain=shop.example",
            &headers(&sig),
            body,
        )
        .await;
    assert_eq!(reply, json!({"counted": 0, "duplicates": 3}));
    let sums = f.store().sums(0, i64::MAX / 120).unwrap();
    let bounce = sums.iter().find(|s| s.event == "bounce").unwrap();
    assert_eq!(
        (
            bounce.sender_domain.as_str(),
            bounce.bounce_type.as_str(),
            bounce.reason.as_str()
        ),
        ("shop.example", "hard", "user_unknown")
    );
    let s = f.store();
    assert_eq!(
        s.suppression("ann@gmail.com").unwrap().unwrap().cause,
        "hard_bounce"
    );
    assert_eq!(
        s.suppression("q@yahoo.com").unwrap().unwrap().cause,
        "complaint"
    );
}

fn mailgun_body(key: &str, ts: i64, token: &str, event: Value) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let tag = hmac::sign(&k, format!("{ts}{token}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    json!({"signature": {"timestamp": ts.to_string(), "token": token, "signature": hex}, "event-data": event})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn mailgun_signatures_windows_and_replays() {
    let f = fixture(
        "  webhooks:\n    mailgun: { signing_key_file: \"{dir}/mg.key\" }\n",
        |d| std::fs::write(d.join("mg.key"), "key-0123456789abcdef\n").unwrap(),
        default_sns(),
    )
    .await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let failed = json!({"event": "failed", "severity": "permanent", "recipient": "gone@corp.example",
        "timestamp": now as f64, "envelope": {"sender": "bounces@mail.shop.example"},
        "delivery-status": {"code": 550, "enhanced-code": "5.1.1", "message": "5.1.1 User unknown", "mx-host": "mx.corp.example"}});
    let temporary = json!({"event": "failed", "severity": "temporary", "recipient": "slow@corp.example", "timestamp": now as f64});
    let (status, _) = f
        .post(
            "/webhooks/mailgun",
            &[],
            mailgun_body("wrong-key", now, "t1", failed.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = f
        .post(
            "/webhooks/mailgun",
            &[],
            mailgun_body("key-0123456789abcdef", now - 600, "t2", failed.clone()),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a signature older than 5 minutes"
    );
    assert_eq!(f.total(), 0);
    let good = mailgun_body("key-0123456789abcdef", now, "t3", failed);
    let (status, reply) = f.post("/webhooks/mailgun", &[], good.clone()).await;
    assert_eq!(
        (status, reply),
        (StatusCode::OK, json!({"counted": 1, "duplicates": 0}))
    );
    let (status, _) = f.post("/webhooks/mailgun", &[], good).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replayed token");
    let (_, reply) = f
        .post(
            "/webhooks/mailgun",
            &[],
            mailgun_body("key-0123456789abcdef", now, "t4", temporary),
        )
        .await;
    assert_eq!(
        reply,
        json!({"counted": 0, "duplicates": 0}),
        "a temporary failure is not a bounce"
    );
    let sums = f.store().sums(0, i64::MAX / 120).unwrap();
    assert_eq!(sums.len(), 1);
    assert_eq!(
        (sums[0].sender_domain.as_str(), sums[0].reason.as_str()),
        ("mail.shop.example", "user_unknown")
    );
}

#[tokio::test]
async fn postmark_needs_its_basic_auth_and_unconfigured_providers_are_404() {
    let f = fixture(
        "  webhooks:\n    postmark: { username: hook, password_file: \"{dir}/pm.pass\" }\n",
        |d| std::fs::write(d.join("pm.pass"), "pa55").unwrap(),
        default_sns(),
    )
    .await;
    let body = json!({"RecordType": "Bounce", "ID": 4323372036854775807u64, "Type": "HardBounce", "TypeCode": 1,
        "Email": "zoe@hotmail.com", "From": "news@shop.example", "BouncedAt": "2026-12-03T10:00:00Z",
        "Details": "smtp;550 5.5.0 Requested action not taken: mailbox unavailable"})
    .to_string()
    .into_bytes();
    let auth =
        |user_pass: &str| vec![("authorization", format!("Basic {}", B64.encode(user_pass)))];
    let (status, _) = f
        .post("/webhooks/postmark", &auth("hook:wrong"), body.clone())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, reply) = f
        .post("/webhooks/postmark", &auth("hook:pa55"), body.clone())
        .await;
    assert_eq!(
        (status, reply),
        (StatusCode::OK, json!({"counted": 1, "duplicates": 0}))
    );
    let auto = json!({"RecordType": "Bounce", "ID": 2, "Type": "AutoResponder", "Email": "ooo@hotmail.com"}).to_string();
    let (_, reply) = f
        .post("/webhooks/postmark", &auth("hook:pa55"), auto.into_bytes())
        .await;
    assert_eq!(
        reply,
        json!({"counted": 0, "duplicates": 0}),
        "an auto-responder is not a bounce"
    );
    for other in ["ses", "sendgrid", "mailgun", "nope"] {
        let (status, _) = f
            .post(&format!("/webhooks/{other}"), &[], b"{}".to_vec())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{other}");
    }
}

/// An RSA key and a self-signed certificate standing in for SNS's signing certificate.
fn sns_signing_cert(d: &Path) {
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "sns.key",
            "-out",
            "sns.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sns.amazonaws.com",
        ],
    );
}

fn sns_message(
    d: &Path,
    kind: &str,
    version: &str,
    topic: &str,
    message: &str,
    cert_url: &str,
) -> Value {
    let mut v = json!({
        "Type": kind, "MessageId": format!("mid-{kind}-{version}"), "TopicArn": topic,
        "Message": message, "Timestamp": "2026-12-03T10:00:00.000Z", "SignatureVersion": version,
        "SigningCertURL": cert_url,
    });
    let signed = if kind == "Notification" {
        format!(
            "Message\n{message}\nMessageId\nmid-{kind}-{version}\nTimestamp\n2026-12-03T10:00:00.000Z\nTopicArn\n{topic}\nType\n{kind}\n"
        )
    } else {
        v["SubscribeURL"] = json!(format!(
            "https://{SNS_HOST}/?Action=ConfirmSubscription&TopicArn={topic}&Token=tok"
        ));
        v["Token"] = json!("tok");
        format!(
            "Message\n{message}\nMessageId\nmid-{kind}-{version}\nSubscribeURL\nhttps://{SNS_HOST}/?Action=ConfirmSubscription&TopicArn={topic}&Token=tok\nTimestamp\n2026-12-03T10:00:00.000Z\nToken\ntok\nTopicArn\n{topic}\nType\n{kind}\n"
        )
    };
    let digest = if version == "1" { "sha1" } else { "sha256" };
    v["Signature"] = json!(B64.encode(sign(d, "sns.key", digest, signed.as_bytes())));
    v
}

#[tokio::test]
async fn ses_through_sns_v1_and_v2_topics_and_subscription_confirmation() {
    let ca = TestCa::new("test SNS CA");
    let leaf = ca.issue(&[SNS_HOST]);
    let certs = tempfile::tempdir().unwrap();
    sns_signing_cert(certs.path());
    let pem = std::fs::read(certs.path().join("sns.pem")).unwrap();
    let server = HttpsServer::start(&leaf, &[], &[(SNS_HOST, Reply::policy("").body(pem))]).await;
    let client = reqwest::Client::builder()
        .resolve(
            SNS_HOST,
            std::net::SocketAddr::from(([127, 0, 0, 1], server.port())),
        )
        .tls_certs_only([reqwest::Certificate::from_pem(ca.root_pem()).unwrap()])
        .build()
        .unwrap();
    let f = fixture(
        &format!("  webhooks:\n    ses: {{ topic_arns: [\"{TOPIC}\"] }}\n"),
        |_| {},
        Verifier::new(client),
    )
    .await;
    let cert_url = format!("https://{SNS_HOST}/SimpleNotificationService-0123abcd.pem");
    let d = certs.path();
    let ses = json!({"notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "feedbackId": "fb-1",
            "timestamp": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap(),
            "bouncedRecipients": [{"emailAddress": "nobody@gmail.com", "status": "5.1.1",
                "diagnosticCode": "smtp; 550-5.1.1 The email account that you tried to reach does not exist."}]},
        "mail": {"source": "bounces@mail.shop.example", "commonHeaders": {"from": ["Shop <news@shop.example>"]}}})
    .to_string();
    let post = |v: Value| {
        let kind = v["Type"].as_str().unwrap().to_owned();
        let f = &f;
        async move {
            f.post(
                "/webhooks/ses",
                &[("x-amz-sns-message-type", kind)],
                v.to_string().into_bytes(),
            )
            .await
        }
    };
    // Tampered message: 401, nothing stored.
    let mut bad = sns_message(d, "Notification", "2", TOPIC, &ses, &cert_url);
    bad["Message"] = json!(ses.replace("nobody", "somebody"));
    assert_eq!(post(bad).await.0, StatusCode::UNAUTHORIZED);
    // A certificate anywhere but an SNS host is refused before any download.
    let elsewhere = sns_message(
        d,
        "Notification",
        "2",
        TOPIC,
        &ses,
        "https://s3.amazonaws.com/SimpleNotificationService-x.pem",
    );
    assert_eq!(post(elsewhere).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(f.total(), 0);
    // Version 2 (SHA-256) and version 1 (SHA-1) both verify; the same SES feedback counts once.
    let (status, reply) = post(sns_message(d, "Notification", "2", TOPIC, &ses, &cert_url)).await;
    assert_eq!(
        (status, reply),
        (StatusCode::OK, json!({"counted": 1, "duplicates": 0}))
    );
    let (status, reply) = post(sns_message(d, "Notification", "1", TOPIC, &ses, &cert_url)).await;
    assert_eq!(
        (status, reply),
        (StatusCode::OK, json!({"counted": 0, "duplicates": 1}))
    );
    assert_eq!(
        server.requests().len(),
        1,
        "the certificate is fetched once and cached"
    );
    // A well-signed message for a topic we do not accept: 403.
    let other_topic = "arn:aws:sns:us-east-1:123456789012:other";
    let (status, _) = post(sns_message(
        d,
        "Notification",
        "2",
        other_topic,
        &ses,
        &cert_url,
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(sns_message(
        d,
        "SubscriptionConfirmation",
        "2",
        other_topic,
        "confirm",
        &cert_url,
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        server.requests().len(),
        1,
        "no confirmation for an unconfigured topic"
    );
    let (status, reply) = post(sns_message(
        d,
        "SubscriptionConfirmation",
        "2",
        TOPIC,
        "confirm",
        &cert_url,
    ))
    .await;
    assert_eq!(
        (status, reply),
        (StatusCode::OK, json!({"confirmed": TOPIC}))
    );
    assert_eq!(
        server.requests(),
        [SNS_HOST, SNS_HOST],
        "the SubscribeURL was visited"
    );
    let sums = f.store().sums(0, i64::MAX / 120).unwrap();
    assert_eq!(
        (
            sums[0].sender_domain.as_str(),
            sums[0].provider.as_str(),
            sums[0].reason.as_str()
        ),
        ("shop.example", "gmail", "user_unknown")
    );
}

#[tokio::test]
async fn the_events_api_needs_the_token_and_feeds_suppressions() {
    let f = fixture(
        "  suppression: { soft_bounces: 2, soft_within: 1d }\n",
        |_| {},
        default_sns(),
    )
    .await;
    let events = json!([
        {"type": "delivery", "recipient": "a@gmail.com", "sender_domain": "shop.example", "id": "d1"},
        {"type": "bounce", "recipient": "Full@Yahoo.com", "sender_domain": "shop.example", "id": "b1",
         "diagnostic": "552 5.2.2 mailbox full"},
        {"type": "bounce", "recipient": "full@yahoo.com", "sender_domain": "shop.example", "id": "b2",
         "status": "4.2.2", "diagnostic": "452 4.2.2 over quota"},
        {"type": "complaint", "recipient": "=cmd@x.example", "sender_domain": "shop.example", "id": "c1"}
    ])
    .to_string()
    .into_bytes();
    let token = vec![("authorization", "Bearer t0ken".to_owned())];
    let (status, _) = f.post("/api/v1/events", &[], events.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, reply) = f.post("/api/v1/events", &token, events).await;
    assert_eq!(
        (status, reply),
        (StatusCode::OK, json!({"counted": 4, "duplicates": 0}))
    );
    let (status, reply) = f
        .post(
            "/api/v1/events",
            &token,
            br#"{"type": "bounce", "recipient": "not an address"}"#.to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply.to_string().contains("events[0].recipient"), "{reply}");

    let get = |uri: &str, accept: Option<&str>| {
        let mut req = Request::get(uri).header("authorization", "Bearer t0ken");
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let app = f.app.clone();
        async move {
            let r = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let status = r.status();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (status, ct, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let (status, _, body) = get("/api/v1/suppressions", None).await;
    assert_eq!(status, StatusCode::OK);
    let list: Value = serde_json::from_str(&body).unwrap();
    let mut got: Vec<(&str, &str)> = list["suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["address"].as_str().unwrap(), s["cause"].as_str().unwrap()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("=cmd@x.example", "complaint"),
            ("full@yahoo.com", "soft_bounces")
        ]
    );
    let (_, ct, csv) = get("/api/v1/suppressions", Some("text/csv")).await;
    assert_eq!(ct.as_deref(), Some("text/csv; charset=utf-8"));
    assert!(
        csv.starts_with("address,cause,reason,sender_domain,since,updated_at,detail\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("\r\n\"'=cmd@x.example\",complaint,abuse,shop.example,"),
        "a formula-looking cell is quoted: {csv}"
    );
    let delete = Request::delete("/api/v1/suppressions/full@yahoo.com")
        .header("authorization", "Bearer t0ken")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        f.app.clone().oneshot(delete).await.unwrap().status(),
        StatusCode::OK
    );
    let (_, _, body) = get("/api/v1/suppressions?format=json", None).await;
    assert!(!body.contains("full@yahoo.com"), "{body}");
    let (status, _, body) = get("/api/v1/events/rates", None).await;
    assert_eq!(status, StatusCode::OK);
    let rates: Value = serde_json::from_str(&body).unwrap();
    let hour = rates["rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["window"] == "1h")
        .unwrap();
    assert_eq!(hour["domain"], "shop.example");
    assert_eq!(hour["counts"]["bounces"], 2);
    assert_eq!(hour["bounce_status"], "too_few_messages");
}
