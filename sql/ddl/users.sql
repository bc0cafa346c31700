-- Dimension: one row per user, carrying the level of the user's LATEST event,
-- latest = max by (ts, session_id, item_in_session). last_event_ts / last_session_id /
-- last_item_in_session record which event that was, so the upsert is "newer wins":
-- backfilling an older hour never overwrites a newer level.
-- Small: a full copy on every node.
CREATE TABLE IF NOT EXISTS users (
    user_id                 INTEGER         NOT NULL,
    first_name              VARCHAR(256),
    last_name               VARCHAR(256),
    gender                  VARCHAR(8),
    level                   VARCHAR(16)     NOT NULL,
    last_event_ts           TIMESTAMP       NOT NULL,
    last_session_id         INTEGER         NOT NULL,
    last_item_in_session    INTEGER         NOT NULL,
    PRIMARY KEY (user_id)
)
DISTSTYLE ALL
SORTKEY (user_id);
