//! tls_rpt check (to be written).

use super::{DomainContext, Outcome};

/// Run the tls_rpt check.
pub async fn check(_cx: &DomainContext) -> Outcome {
    Outcome::default()
}
