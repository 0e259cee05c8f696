-- 0007: source enrichment (docs/ingest.md, "Source enrichment"). Written after the report commit by
-- the enrichment task (src/analysis/enrich.rs) on its own connection: the reverse-DNS answer per
-- source IP, kept until expires_at (the answer's TTL, clamped), then asked again when the IP shows up
-- in a new report. The sender name is not stored: it is looked up in the current mapping on read.
CREATE TABLE source_enrichment (
    ip          TEXT   NOT NULL PRIMARY KEY,  -- canonical text form, as in aggregate_records.source_ip
    outcome     TEXT   NOT NULL,              -- ptr, no_ptr (NXDOMAIN or no PTR record), failed (timeout, SERVFAIL…)
    ptr         TEXT,                         -- the first PTR name, lower case, no trailing dot
    resolved_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX source_enrichment_expiry ON source_enrichment (expires_at);
CREATE INDEX source_enrichment_resolved ON source_enrichment (resolved_at);
-- Distinct-source queries per report arrival.
CREATE INDEX aggregate_reports_received ON aggregate_reports (received_at);
