-- Song catalog, one row per song_data/A/B/C/TR*.json object.
-- Loaded by COPY ... FORMAT AS JSON 'auto': JSON keys are matched to column NAMES, so every column is
-- named exactly like its lowercase key.
-- Small and joined to staging_events on (title, artist_name, duration): a full copy on every node
-- keeps that join local.
CREATE TABLE IF NOT EXISTS staging_songs (
    num_songs           INTEGER,
    artist_id           VARCHAR(32),
    artist_latitude     DOUBLE PRECISION,
    artist_longitude    DOUBLE PRECISION,
    artist_location     VARCHAR(512),
    artist_name         VARCHAR(512),
    song_id             VARCHAR(32),
    title               VARCHAR(512),
    duration            DOUBLE PRECISION,
    year                INTEGER
)
DISTSTYLE ALL;
