//! Bulk-sender requirements summary (to be written).
