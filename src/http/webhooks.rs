//! `POST /webhooks/{ses|sendgrid|mailgun|postmark}`: the provider's signature (or credentials) is
//! checked first; a bad one is 401 and nothing is stored. The events are committed before the 200
//! (a provider retries anything else, and the idempotency keys make a retry count once). A provider
//! not configured in `events.webhooks` is 404.
//!
//! `?domain=shop.example` names the sending domain for providers whose events do not carry it
//! (SendGrid); it must be a configured domain.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::events::{EventsState, now, webhook_error};
use crate::events::webhooks::{WebhookError, mailgun, postmark, sendgrid, ses, sns};

/// The webhook routes.
pub fn router(s: EventsState) -> Router<AppState> {
    Router::new()
        .route("/webhooks/{provider}", post(receive))
        .with_state(s)
}

#[derive(Deserialize)]
struct WebhookQuery {
    domain: Option<String>,
}

fn not_configured(provider: &str) -> ApiError {
    ApiError::not_found(
        "webhook_not_configured",
        format!("the {provider} webhook is not configured (events.webhooks.{provider})"),
    )
}

async fn receive(
    State(s): State<EventsState>,
    Path(provider): Path<String>,
    Query(q): Query<WebhookQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let answer = receive_from(&s, &provider, q, &headers, &body).await;
    if let Err(e) = &answer {
        let endpoint = match provider.as_str() {
            "ses" => "webhook_ses",
            "sendgrid" => "webhook_sendgrid",
            "mailgun" => "webhook_mailgun",
            "postmark" => "webhook_postmark",
            _ => return answer,
        };
        s.keep_refusal(endpoint, e).await;
    }
    answer
}

async fn receive_from(
    s: &EventsState,
    provider: &str,
    q: WebhookQuery,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Json<Value>, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let webhooks = s.app.config.borrow().events.webhooks.clone();
    let domain = q.domain.as_deref();
    let batch = match provider {
        "ses" => {
            let Some(ses_settings) = webhooks.ses else {
                return Err(not_configured("ses"));
            };
            return receive_sns(
                s,
                &ses_settings.topic_arns,
                header("x-amz-sns-message-type"),
                body,
                domain,
            )
            .await;
        }
        "sendgrid" => {
            let Some(cfg) = webhooks.sendgrid else {
                return Err(not_configured("sendgrid"));
            };
            sendgrid::verify(
                &cfg.public_key,
                header("x-twilio-email-event-webhook-signature"),
                header("x-twilio-email-event-webhook-timestamp"),
                body,
            )
            .map_err(webhook_error)?;
            s.with_context(domain, |cx| sendgrid::map(body, cx))
                .map_err(webhook_error)?
        }
        "mailgun" => {
            let Some(cfg) = webhooks.mailgun else {
                return Err(not_configured("mailgun"));
            };
            let parsed: Value = serde_json::from_slice(body).map_err(|_| {
                webhook_error(WebhookError::Unauthorized(
                    "the body is not JSON with a signature block",
                ))
            })?;
            let token =
                mailgun::verify(&parsed, cfg.signing_key.expose(), now(), &s.mailgun_replay)
                    .map_err(webhook_error)?;
            let batch = s.with_context(domain, |cx| mailgun::map(&parsed, cx));
            match batch {
                Ok(b) => match s.commit(b).await {
                    Ok(outcome) => {
                        return Ok(Json(
                            json!({"counted": outcome.counted, "duplicates": outcome.duplicates}),
                        ));
                    }
                    Err(e) => {
                        // Not committed: Mailgun's retry carries the same token and must pass.
                        s.mailgun_replay.forget(&token);
                        return Err(e);
                    }
                },
                Err(e) => return Err(webhook_error(e)),
            }
        }
        "postmark" => {
            let Some(cfg) = webhooks.postmark else {
                return Err(not_configured("postmark"));
            };
            postmark::verify(
                header(header::AUTHORIZATION.as_str()),
                &cfg.username,
                cfg.password.expose(),
            )
            .map_err(webhook_error)?;
            s.with_context(domain, |cx| postmark::map(body, cx))
                .map_err(webhook_error)?
        }
        _ => {
            return Err(ApiError::not_found(
                "no_such_webhook",
                "webhooks are ses, sendgrid, mailgun and postmark",
            ));
        }
    };
    let outcome = s.commit(batch).await?;
    Ok(Json(
        json!({"counted": outcome.counted, "duplicates": outcome.duplicates}),
    ))
}

/// SES through SNS: verify, check the topic, then confirm a subscription or count a notification.
async fn receive_sns(
    s: &EventsState,
    topics: &[String],
    header_type: Option<&str>,
    body: &[u8],
    domain: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let envelope: sns::Envelope = serde_json::from_slice(body)
        .map_err(|e| webhook_error(WebhookError::BadRequest(format!("not an SNS message: {e}"))))?;
    // The header SNS sets must agree with the signed body.
    if header_type.is_some_and(|t| t != envelope.kind) {
        return Err(webhook_error(WebhookError::BadRequest(
            "x-amz-sns-message-type does not match the message Type".into(),
        )));
    }
    s.sns.verify(&envelope).await.map_err(webhook_error)?;
    if !topics.iter().any(|t| t == &envelope.topic_arn) {
        return Err(webhook_error(WebhookError::Forbidden(format!(
            "topic {} is not in events.webhooks.ses.topic_arns",
            envelope.topic_arn
        ))));
    }
    match envelope.kind.as_str() {
        "SubscriptionConfirmation" => {
            let url = envelope.subscribe_url.as_deref().unwrap_or("");
            if !sns::is_sns_url(url, false) {
                return Err(webhook_error(WebhookError::BadRequest(
                    "the SubscribeURL is not an SNS host".into(),
                )));
            }
            let response = s.sns.client().get(url).send().await.map_err(|e| {
                webhook_error(WebhookError::Unavailable(format!(
                    "confirming the subscription: {e}"
                )))
            })?;
            if !response.status().is_success() {
                return Err(webhook_error(WebhookError::Unavailable(format!(
                    "confirming the subscription: SNS answered {}",
                    response.status()
                ))));
            }
            tracing::info!(topic = %envelope.topic_arn, "confirmed the SNS subscription");
            Ok(Json(json!({"confirmed": envelope.topic_arn})))
        }
        "UnsubscribeConfirmation" => Ok(Json(json!({"unsubscribed": envelope.topic_arn}))),
        _ => {
            let batch = s
                .with_context(domain, |cx| {
                    ses::map(&envelope.message, &envelope.message_id, cx)
                })
                .map_err(webhook_error)?;
            let outcome = s.commit(batch).await?;
            Ok(Json(
                json!({"counted": outcome.counted, "duplicates": outcome.duplicates}),
            ))
        }
    }
}
