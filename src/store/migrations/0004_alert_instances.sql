-- 0004: the alert engine's alerts (src/alerts/lifecycle.rs), so a restart neither pages again nor
-- forgets what fires: one row per alert, keyed by its label set; the record (labels, annotations,
-- times, what each webhook was told) as JSON.
CREATE TABLE alert_instances (
    alert_key  TEXT   NOT NULL PRIMARY KEY,  -- alertname and its labels
    phase      TEXT   NOT NULL,              -- pending, firing, resolved
    updated_at BIGINT NOT NULL,              -- Unix ms of the last change
    record     TEXT   NOT NULL               -- JSON of the alert record
);
