-- 0001: the first schema. Portable to PostgreSQL on purpose: only TEXT, BIGINT and DOUBLE PRECISION
-- columns, natural primary keys (no AUTOINCREMENT, no rowid aliases, no WITHOUT ROWID), upserts written
-- as INSERT ... ON CONFLICT. Times are Unix seconds; JSON is stored as TEXT.

-- Check results as spans: one row per stretch of identical outcomes (status, record, findings), so a
-- result that stays the same for a year is one row, not 35,000. The latest row per (target, check)
-- is the current state.
CREATE TABLE check_results (
    target           TEXT   NOT NULL,  -- domain, or IP for IP-scoped checks
    check_name       TEXT   NOT NULL,  -- spf, dkim, ptr, ...
    status           TEXT   NOT NULL,  -- ok, info, warning, unknown, critical
    record           TEXT,             -- the record(s) read, as published
    findings         TEXT   NOT NULL,  -- JSON array of {code, severity, message, detail}
    first_checked_at BIGINT NOT NULL,  -- first run with this outcome
    last_checked_at  BIGINT NOT NULL,  -- latest run with this outcome
    duration_ms      BIGINT NOT NULL,  -- how long the latest run took
    PRIMARY KEY (target, check_name, first_checked_at)
);
CREATE INDEX check_results_latest ON check_results (target, check_name, last_checked_at);

-- Every published value a check read, as spans, so a change can raise `record.changed`.
CREATE TABLE record_history (
    target     TEXT   NOT NULL,
    check_name TEXT   NOT NULL,
    name       TEXT   NOT NULL,  -- the DNS name read (_dmarc.example.com, s1._domainkey.example.com)
    value      TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (target, check_name, name, first_seen)
);
CREATE INDEX record_history_latest ON record_history (target, check_name, name, last_seen);

-- Blocklist listing periods: open while delisted_at is NULL.
CREATE TABLE blocklist_listings (
    target       TEXT   NOT NULL,  -- configured IP or domain
    zone         TEXT   NOT NULL,
    codes        TEXT   NOT NULL,  -- JSON array of answer codes
    reason       TEXT,             -- the list's TXT reason
    listed_since BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    delisted_at  BIGINT,
    PRIMARY KEY (target, zone, listed_since)
);
CREATE INDEX blocklist_listings_open ON blocklist_listings (target, zone, delisted_at);

-- DMARC aggregate reports (RFC 9990) and their rows. (org_name, report_id) is the report's identity.
CREATE TABLE dmarc_reports (
    org_name     TEXT   NOT NULL,
    report_id    TEXT   NOT NULL,
    domain       TEXT   NOT NULL,  -- policy_published domain
    email        TEXT,
    begin_at     BIGINT NOT NULL,
    end_at       BIGINT NOT NULL,
    policy       TEXT   NOT NULL,  -- JSON of policy_published
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (org_name, report_id)
);
CREATE INDEX dmarc_reports_domain ON dmarc_reports (domain, end_at);

CREATE TABLE dmarc_rows (
    org_name       TEXT   NOT NULL,
    report_id      TEXT   NOT NULL,
    row_index      BIGINT NOT NULL,
    source_ip      TEXT   NOT NULL,
    message_count  BIGINT NOT NULL,
    disposition    TEXT   NOT NULL,
    dkim_aligned   TEXT   NOT NULL,  -- pass / fail (policy_evaluated)
    spf_aligned    TEXT   NOT NULL,
    header_from    TEXT   NOT NULL,
    envelope_from  TEXT,
    auth_results   TEXT   NOT NULL,  -- JSON of auth_results (dkim/spf domains, selectors, results)
    PRIMARY KEY (org_name, report_id, row_index),
    FOREIGN KEY (org_name, report_id) REFERENCES dmarc_reports (org_name, report_id) ON DELETE CASCADE
);

-- Deliveries, bounces and complaints counted in time buckets; rates are computed from these.
CREATE TABLE event_counts (
    bucket_start   BIGINT NOT NULL,  -- start of the bucket (Unix seconds, aligned to bucket_seconds)
    bucket_seconds BIGINT NOT NULL,
    domain         TEXT   NOT NULL,  -- sending domain
    provider       TEXT   NOT NULL,  -- mailbox provider (bounded set) or 'other'
    kind           TEXT   NOT NULL,  -- delivery, bounce, complaint
    category       TEXT   NOT NULL,  -- bounce type/reason category, '' when not applicable
    event_count    BIGINT NOT NULL,
    PRIMARY KEY (bucket_start, bucket_seconds, domain, provider, kind, category)
);

-- Alert state, so a restart neither forgets firing alerts nor re-notifies them.
CREATE TABLE alert_state (
    alert_key     TEXT   NOT NULL PRIMARY KEY,  -- rule name + its bounded labels
    state         TEXT   NOT NULL,              -- pending, firing, resolved
    since         BIGINT NOT NULL,
    last_notified BIGINT,
    detail        TEXT   NOT NULL               -- JSON
);

-- Ingest ledger: what was already stored, by identity and by content, so ingest is idempotent.
CREATE TABLE ingest_ledger (
    idempotency_key TEXT   NOT NULL PRIMARY KEY,  -- e.g. dmarc:<org>:<report id>, or the content hash
    content_hash    TEXT   NOT NULL UNIQUE,       -- SHA-256 of the raw input
    source          TEXT   NOT NULL,              -- directory, http, imap, webhook:<provider>
    kind            TEXT   NOT NULL,              -- dmarc_aggregate, tls_report, bounce, ...
    received_at     BIGINT NOT NULL
);
