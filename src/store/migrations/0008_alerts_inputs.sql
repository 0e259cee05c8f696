-- 0008: what the alert rules read that no other table kept (docs/alerts.md).
--
-- ingest_failures: one row per input the ingest pipeline refused for itself (not for a store or
-- read error of ours): a file moved to failed/, or an upload answered 422. Written by the ingest
-- writer (src/ingest/store/alert_inputs.rs); pruned with the reports. `reason` is the refusal's
-- stable code (docs/ingest.md), `error` its message, cut to 500 characters.
CREATE TABLE ingest_failures (
    at     BIGINT NOT NULL,  -- Unix seconds
    kind   TEXT   NOT NULL,  -- dmarc_aggregate, tls_report, dmarc_failure, unknown
    reason TEXT   NOT NULL,
    error  TEXT   NOT NULL
);
CREATE INDEX ingest_failures_by_time ON ingest_failures (at);
