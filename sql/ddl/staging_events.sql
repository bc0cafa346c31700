-- Raw app events of ONE day, one row per JSON line of log_data/YYYY/MM/YYYY-MM-DD-events.json.
-- One table per day, named from the run's interval (staging_events_YYYYMMDD): runs of different days never
-- share a staging table, and the 24 runs of a day share one copy of the day file (staging is a cache of S3,
-- see plugins/sparkify/staging.py). Rendered by Jinja (interval_start() is a DAG macro).
-- Loaded by COPY ... FORMAT AS JSON '<jsonpaths>': columns are matched BY POSITION to the 18 paths of
-- log_json_path.json, so the column order below must stay identical to that file.
-- ts arrives as epoch milliseconds and is converted by COPY (TIMEFORMAT 'epochmillisecs').
-- registration is epoch milliseconds written as a float (1540919166796.0), hence DOUBLE PRECISION.
-- userid is a string ('' on logged-out events); it is cast to INTEGER only when building users/songplays.
-- Scanned once per run and never joined on a key: spread evenly.
CREATE TABLE IF NOT EXISTS staging_events_{{ interval_start('%Y%m%d') }} (
    artist          VARCHAR(512),
    auth            VARCHAR(32),
    firstname       VARCHAR(256),
    gender          VARCHAR(8),
    iteminsession   INTEGER,
    lastname        VARCHAR(256),
    length          DOUBLE PRECISION,
    level           VARCHAR(16),
    location        VARCHAR(512),
    method          VARCHAR(16),
    page            VARCHAR(64),
    registration    DOUBLE PRECISION,
    sessionid       INTEGER,
    song            VARCHAR(512),
    status          INTEGER,
    ts              TIMESTAMP,
    useragent       VARCHAR(512),
    userid          VARCHAR(32)
)
DISTSTYLE EVEN;
