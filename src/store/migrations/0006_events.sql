-- 0006: bounce, complaint and delivery counts (docs/bounces.md), written by the events module on its
-- own connection.
--
-- event_buckets: one row per UTC minute and (sending domain, mailbox provider, event, type, reason);
-- rates over rolling windows are sums of the minutes inside the window, so a restart loses nothing.
-- event is delivery, deferral, bounce or complaint; bounce_type (hard, soft) and reason are '' for the others.
CREATE TABLE event_buckets (
    minute BIGINT NOT NULL,
    sender_domain TEXT NOT NULL,
    provider TEXT NOT NULL,
    event TEXT NOT NULL,
    bounce_type TEXT NOT NULL,
    reason TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (minute, sender_domain, provider, event, bounce_type, reason)
);

-- events_seen: the idempotency keys of counted events (a webhook's provider event id, a bounce's
-- Message-ID and recipient), so a redelivery counts once.
CREATE TABLE events_seen (
    event_key TEXT NOT NULL PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
CREATE INDEX events_seen_by_time ON events_seen (seen_at);

-- suppressions: recipients the sending application should stop mailing, with when and why.
CREATE TABLE suppressions (
    address TEXT NOT NULL PRIMARY KEY,
    cause TEXT NOT NULL,
    reason TEXT NOT NULL,
    sender_domain TEXT NOT NULL,
    detail TEXT NOT NULL,
    since BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- suppression_soft_bounces: recent soft bounces per address, for the "repeated soft bounces" rule;
-- a delivery to the address clears them.
CREATE TABLE suppression_soft_bounces (
    address TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX suppression_soft_bounces_by_address ON suppression_soft_bounces (address, at);
