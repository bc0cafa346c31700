-- Dimension: one row per artist_id of the catalog. Small: a full copy on every node.
-- location is NULL where the catalog has an empty string.
CREATE TABLE IF NOT EXISTS artists (
    artist_id   VARCHAR(32)     NOT NULL,
    name        VARCHAR(512)    NOT NULL,
    location    VARCHAR(512),
    latitude    DOUBLE PRECISION,
    longitude   DOUBLE PRECISION,
    PRIMARY KEY (artist_id)
)
DISTSTYLE ALL
SORTKEY (artist_id);
