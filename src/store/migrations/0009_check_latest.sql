-- 0009: the latest span of every (target, check), kept beside check_results so reading the current
-- state (the start-up restore, every status request) touches one row per check instead of scanning a
-- year of spans. Written in the same transaction as the span it points at (src/store/sqlite/queries.rs);
-- `last_checked_at` is the span's, so an out-of-order write never moves the pointer back in time.
CREATE TABLE check_latest (
    target           TEXT   NOT NULL,
    check_name       TEXT   NOT NULL,
    first_checked_at BIGINT NOT NULL,  -- the span's key in check_results
    last_checked_at  BIGINT NOT NULL,
    PRIMARY KEY (target, check_name)
);

-- The pointer for what is already stored: the span with the newest last run, the newer span first
-- when two share it (the order the previous reader used).
INSERT INTO check_latest (target, check_name, first_checked_at, last_checked_at)
SELECT target, check_name, first_checked_at, last_checked_at FROM (
    SELECT target, check_name, first_checked_at, last_checked_at,
           ROW_NUMBER() OVER (PARTITION BY target, check_name
                              ORDER BY last_checked_at DESC, first_checked_at DESC) AS n
    FROM check_results
) WHERE n = 1;
