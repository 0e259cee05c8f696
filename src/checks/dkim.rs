//! dkim check (to be written).

use super::{DomainContext, Outcome};

/// Run the dkim check.
pub async fn check(_cx: &DomainContext) -> Outcome {
    Outcome::default()
}
