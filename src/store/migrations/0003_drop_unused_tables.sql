-- 0003: drop the tables 0001 created ahead of the features that would fill them. No code ever wrote
-- them; each feature now adds its own tables, with names of its own, in its own migration.
DROP TABLE IF EXISTS dmarc_rows;
DROP TABLE IF EXISTS dmarc_reports;
DROP TABLE IF EXISTS event_counts;
DROP TABLE IF EXISTS alert_state;
DROP TABLE IF EXISTS ingest_ledger;
