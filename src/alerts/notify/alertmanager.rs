//! Alertmanager API v2: `POST <url>/api/v2/alerts` with a JSON array of postable alerts. Firing
//! alerts carry an `endsAt` in the future and are sent again before it passes, as Prometheus does,
//! so an Alertmanager that restarts or a senderscope that dies lets them lapse rather than fire
//! forever; resolved ones carry the resolution time.

use super::{DeliveryError, Notification, answer, unreachable};
use crate::alerts::settings::AlertmanagerSettings;

/// Post `batch` to one Alertmanager.
pub async fn send(
    client: &reqwest::Client,
    am: &AlertmanagerSettings,
    batch: &[Notification],
) -> Result<String, DeliveryError> {
    let url = format!("{}/api/v2/alerts", am.url.trim_end_matches('/'));
    let mut request = client.post(url).timeout(am.timeout).json(batch);
    if let Some(auth) = &am.basic_auth {
        request = request.basic_auth(&auth.username, Some(auth.password.expose()));
    }
    let response = request.send().await.map_err(unreachable)?;
    answer(response).await
}
