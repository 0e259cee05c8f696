-- 0005: ingested reports (docs/ingest.md). Written by the ingest write path (src/ingest/store.rs) on
-- its own connection. Portable like 0001: TEXT, BIGINT, natural keys, times in Unix seconds, JSON as TEXT.

-- DMARC aggregate reports, one row per report as received. The duplicate key is
-- (reporter, report_id, domain, begin_at, end_at); report_uid is a digest of it that the records use.
-- A row stays 'loading' while its records are written in batches; only 'complete' rows count.
CREATE TABLE aggregate_reports (
    report_uid   TEXT   NOT NULL PRIMARY KEY,
    reporter     TEXT   NOT NULL,  -- org_name, or the email domain when org_name is empty; lower case
    report_id    TEXT   NOT NULL,
    domain       TEXT   NOT NULL,  -- policy_published domain
    begin_at     BIGINT NOT NULL,
    end_at       BIGINT NOT NULL,
    org_name     TEXT   NOT NULL,
    email        TEXT,
    namespace    TEXT,             -- urn:ietf:params:xml:ns:dmarc-2.0 for RFC 9990 reports
    policy       TEXT   NOT NULL,  -- JSON of policy_published
    state        TEXT   NOT NULL,  -- loading, complete
    content_hash TEXT,             -- SHA-256 of the decoded report, set when complete
    records      BIGINT NOT NULL,
    messages     BIGINT NOT NULL,
    warnings     BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    UNIQUE (reporter, report_id, domain, begin_at, end_at)
);
CREATE INDEX aggregate_reports_domain ON aggregate_reports (domain, end_at);

-- One row per <record>. domain and the date range are copied from the report for time queries.
CREATE TABLE aggregate_records (
    report_uid    TEXT   NOT NULL,
    seq           BIGINT NOT NULL,  -- position in the report
    domain        TEXT   NOT NULL,
    begin_at      BIGINT NOT NULL,
    end_at        BIGINT NOT NULL,
    source_ip     TEXT   NOT NULL,  -- canonical text form (RFC 5952 for IPv6)
    count         BIGINT NOT NULL,
    disposition   TEXT   NOT NULL,  -- none, quarantine, reject, pass, other
    dkim_aligned  TEXT   NOT NULL,  -- policy_evaluated dkim: pass, fail, other
    spf_aligned   TEXT   NOT NULL,  -- policy_evaluated spf: pass, fail, other
    header_from   TEXT,
    envelope_from TEXT,
    envelope_to   TEXT,
    dkim          TEXT   NOT NULL,  -- JSON [{domain, selector, result, human_result}]
    spf           TEXT   NOT NULL,  -- JSON [{domain, scope, result, human_result}]
    reasons       TEXT   NOT NULL,  -- JSON [{kind, comment}]: override reasons
    PRIMARY KEY (report_uid, seq)
);
CREATE INDEX aggregate_records_domain ON aggregate_records (domain, end_at);

-- DKIM selectors seen in aggregate reports, per policy domain.
CREATE TABLE dkim_selectors_seen (
    domain      TEXT   NOT NULL,  -- policy domain
    dkim_domain TEXT   NOT NULL,  -- d= of the signature
    selector    TEXT   NOT NULL,
    first_seen  BIGINT NOT NULL,  -- report end
    last_seen   BIGINT NOT NULL,
    messages    BIGINT NOT NULL,
    passed      BIGINT NOT NULL,  -- messages whose signature verified
    PRIMARY KEY (domain, dkim_domain, selector)
);

-- SMTP TLS reports (RFC 8460).
CREATE TABLE tls_reports (
    organization        TEXT   NOT NULL,
    report_id           TEXT   NOT NULL,
    domain              TEXT,             -- first policy domain
    begin_at            BIGINT NOT NULL,
    end_at              BIGINT NOT NULL,
    successful_sessions BIGINT NOT NULL,
    failed_sessions     BIGINT NOT NULL,
    report              TEXT   NOT NULL,  -- JSON of the typed report
    content_hash        TEXT   NOT NULL,
    received_at         BIGINT NOT NULL,
    PRIMARY KEY (organization, report_id)
);
CREATE INDEX tls_reports_domain ON tls_reports (domain, end_at);

-- DMARC failure reports (RFC 9991), keyed by their identity fields.
CREATE TABLE failure_reports (
    identity     TEXT   NOT NULL PRIMARY KEY,  -- reporter|domain|source ip|arrival|recipient
    domain       TEXT,
    source_ip    TEXT,
    auth_failure TEXT,
    report       TEXT   NOT NULL,  -- JSON of the typed report
    content_hash TEXT   NOT NULL,
    received_at  BIGINT NOT NULL
);
CREATE INDEX failure_reports_domain ON failure_reports (domain, received_at);

-- Every distinct content received per report key: how often, and whether it was new, a duplicate,
-- or a conflict (same key, other content: the first copy counts, this one is kept here).
CREATE TABLE report_ledger (
    kind         TEXT   NOT NULL,  -- dmarc_aggregate, tls_report, dmarc_failure
    report_key   TEXT   NOT NULL,
    content_hash TEXT   NOT NULL,
    outcome      TEXT   NOT NULL,  -- new, duplicate, conflict (of the first arrival of this content)
    times        BIGINT NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    PRIMARY KEY (kind, report_key, content_hash)
);
