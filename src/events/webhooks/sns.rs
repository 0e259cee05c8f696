//! Amazon SNS message verification (the envelope SES notifications arrive in).
//!
//! Per the SNS developer guide "Verifying the signatures of Amazon SNS messages": the signed string
//! is `Name\nvalue\n` for Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type
//! (notifications) or Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type
//! (confirmations); SignatureVersion 1 is RSA PKCS#1 v1.5 with SHA-1, version 2 with SHA-256. The
//! certificate comes from `SigningCertURL`, accepted only on an SNS host over HTTPS (so TLS
//! authenticates it), and cached by URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use serde::Deserialize;

use super::WebhookError;

/// The SNS JSON envelope (only the fields we read).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Envelope {
    /// Notification, SubscriptionConfirmation or UnsubscribeConfirmation.
    #[serde(rename = "Type")]
    pub kind: String,
    /// SNS's id of this message.
    pub message_id: String,
    /// The topic.
    pub topic_arn: String,
    /// Optional subject (notifications).
    #[serde(default)]
    pub subject: Option<String>,
    /// The payload: for SES, a JSON document in a string.
    pub message: String,
    /// When SNS published it.
    pub timestamp: String,
    /// "1" or "2".
    pub signature_version: String,
    /// Base64 signature.
    pub signature: String,
    /// Where the signing certificate is.
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    /// Confirmations: the URL that confirms the subscription.
    #[serde(rename = "SubscribeURL", default)]
    pub subscribe_url: Option<String>,
    /// Confirmations: the token.
    #[serde(default)]
    pub token: Option<String>,
}

impl Envelope {
    /// The string SNS signed.
    pub fn string_to_sign(&self) -> Result<String, WebhookError> {
        let mut out = String::new();
        let mut field = |name: &str, value: &str| {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        };
        match self.kind.as_str() {
            "Notification" => {
                field("Message", &self.message);
                field("MessageId", &self.message_id);
                if let Some(subject) = &self.subject {
                    field("Subject", subject);
                }
                field("Timestamp", &self.timestamp);
                field("TopicArn", &self.topic_arn);
                field("Type", &self.kind);
            }
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                let missing = || {
                    WebhookError::BadRequest("a confirmation needs SubscribeURL and Token".into())
                };
                field("Message", &self.message);
                field("MessageId", &self.message_id);
                field(
                    "SubscribeURL",
                    self.subscribe_url.as_deref().ok_or_else(missing)?,
                );
                field("Timestamp", &self.timestamp);
                field("Token", self.token.as_deref().ok_or_else(missing)?);
                field("TopicArn", &self.topic_arn);
                field("Type", &self.kind);
            }
            other => {
                return Err(WebhookError::BadRequest(format!(
                    "unknown SNS message type {other:?}"
                )));
            }
        }
        Ok(out)
    }
}

/// `https://sns.<region>.amazonaws.com[.cn]/…`: the hosts SNS serves certificates and
/// subscription confirmations from. Anything else (an S3 bucket, a look-alike) is refused.
pub fn is_sns_url(url: &str, pem: bool) -> bool {
    let Some(rest) = url.strip_prefix("https://sns.") else {
        return false;
    };
    let Some((host_rest, path)) = rest.split_once('/') else {
        return false;
    };
    let region = host_rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| host_rest.strip_suffix(".amazonaws.com.cn"));
    let region_ok = region.is_some_and(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !region_ok {
        return false;
    }
    if !pem {
        return true;
    }
    path.strip_prefix("SimpleNotificationService-")
        .and_then(|p| p.strip_suffix(".pem"))
        .is_some_and(|id| {
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// How many signing certificates are kept (SNS rotates them rarely; a few regions at most).
const MAX_CACHED: usize = 32;
/// The most of a certificate download read.
const MAX_CERT_BYTES: usize = 16 << 10;

/// Verifies SNS signatures, fetching and caching signing certificates.
pub struct Verifier {
    client: reqwest::Client,
    cache: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl Verifier {
    /// A verifier fetching certificates with `client` (the daemon's: HTTPS, timeouts).
    pub fn new(client: reqwest::Client) -> Verifier {
        Verifier {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A verifier with its own HTTPS client (10 s timeout, no redirects).
    pub fn with_default_client() -> Result<Verifier, WebhookError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| WebhookError::Unavailable(format!("building the HTTPS client: {e}")))?;
        Ok(Verifier::new(client))
    }

    /// The client (to confirm subscriptions with).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Check the envelope's signature; Unauthorized when it does not verify.
    pub async fn verify(&self, e: &Envelope) -> Result<(), WebhookError> {
        if !is_sns_url(&e.signing_cert_url, true) {
            return Err(WebhookError::Unauthorized(
                "the signing certificate URL is not an SNS host",
            ));
        }
        let signed = e.string_to_sign()?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(e.signature.trim())
            .map_err(|_| WebhookError::Unauthorized("the signature is not base64"))?;
        let spki = self.certificate_key(&e.signing_cert_url).await?;
        let algorithm: &'static dyn aws_lc_rs::signature::VerificationAlgorithm =
            match e.signature_version.as_str() {
                "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                "2" => &RSA_PKCS1_2048_8192_SHA256,
                _ => return Err(WebhookError::Unauthorized("unknown SignatureVersion")),
            };
        UnparsedPublicKey::new(algorithm, spki.as_slice())
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| WebhookError::Unauthorized("the SNS signature does not verify"))
    }

    async fn certificate_key(&self, url: &str) -> Result<Arc<Vec<u8>>, WebhookError> {
        if let Some(k) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
        {
            return Ok(k.clone());
        }
        let unavailable = |e: &dyn std::fmt::Display| {
            WebhookError::Unavailable(format!("fetching the SNS signing certificate {url}: {e}"))
        };
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !response.status().is_success() {
            return Err(unavailable(&response.status()));
        }
        let body = response.bytes().await.map_err(|e| unavailable(&e))?;
        if body.len() > MAX_CERT_BYTES {
            return Err(unavailable(&"larger than 16 KiB"));
        }
        let der = pem_certificate(&body).ok_or_else(|| unavailable(&"not a PEM certificate"))?;
        let spki = super::der::subject_public_key_info(&der)
            .ok_or_else(|| unavailable(&"no public key in the certificate"))?;
        let key = Arc::new(spki.to_vec());
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(url.to_owned(), key.clone());
        Ok(key)
    }
}

/// The DER bytes of the first `CERTIFICATE` block of a PEM file.
fn pem_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = text[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_may_serve_certificates() {
        assert!(is_sns_url(
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
            true
        ));
        assert!(is_sns_url(
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            true
        ));
        for bad in [
            "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://s3.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem",
            "https://sns.us-east-1.amazonaws.com/evil.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1",
            "https://sns.us_east.amazonaws.com/SimpleNotificationService-abc.pem",
        ] {
            assert!(!is_sns_url(bad, true), "{bad}");
        }
        assert!(is_sns_url(
            "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
            false
        ));
    }

    #[test]
    fn the_signed_string_lists_the_fields_in_order() {
        let e = Envelope {
            kind: "Notification".into(),
            message_id: "m1".into(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:ses".into(),
            subject: None,
            message: "{}".into(),
            timestamp: "2026-12-03T10:00:00.000Z".into(),
            signature_version: "2".into(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subscribe_url: None,
            token: None,
        };
        assert_eq!(
            e.string_to_sign().unwrap(),
            "Message\n{}\nMessageId\nm1\nTimestamp\n2026-12-03T10:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:123456789012:ses\nType\nNotification\n"
        );
    }
}
