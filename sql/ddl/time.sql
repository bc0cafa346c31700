-- Dimension: one row per distinct songplays.start_time. "time" is quoted everywhere (reserved word).
-- As large as the fact: distributed and sorted like songplays so the join on start_time is co-located.
-- weekday: 0 = Sunday .. 6 = Saturday (EXTRACT(DOW)).
CREATE TABLE IF NOT EXISTS "time" (
    start_time  TIMESTAMP   NOT NULL,
    hour        INTEGER     NOT NULL,
    day         INTEGER     NOT NULL,
    week        INTEGER     NOT NULL,
    month       INTEGER     NOT NULL,
    year        INTEGER     NOT NULL,
    weekday     INTEGER     NOT NULL,
    PRIMARY KEY (start_time)
)
DISTSTYLE KEY
DISTKEY (start_time)
SORTKEY (start_time);
