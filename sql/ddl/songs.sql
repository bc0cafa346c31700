-- Dimension: one row per song_id of the catalog. Small: a full copy on every node.
CREATE TABLE IF NOT EXISTS songs (
    song_id     VARCHAR(32)     NOT NULL,
    title       VARCHAR(512)    NOT NULL,
    artist_id   VARCHAR(32)     NOT NULL,
    year        INTEGER,
    duration    DOUBLE PRECISION,
    PRIMARY KEY (song_id)
)
DISTSTYLE ALL
SORTKEY (song_id);
