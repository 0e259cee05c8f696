-- 0002: the typed facts behind a check result, as JSON, beside its findings: the PTR name and whether
-- it is forward-confirmed for an IP's `ptr` result (the status API shows them), the SPF lookup count,
-- the DKIM keys and the DMARC policy for a domain's checks. '{}' for results stored before this column.
ALTER TABLE check_results ADD COLUMN facts TEXT NOT NULL DEFAULT '{}';
