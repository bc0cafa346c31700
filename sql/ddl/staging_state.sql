-- What staging holds: one row per S3 source (the day file, the catalog prefix), written by the staging
-- tasks' post_execute hook only after their COPY committed (plugins/sparkify/staging.py).
-- fingerprint = sha256 of the source's S3 listing (key, ETag, size of every object); rows_staged = rows in
-- target_table right after the COPY. published_fingerprint: the catalog fingerprint last published into
-- songs/artists (set by the publish task).
CREATE TABLE IF NOT EXISTS staging_state (
    source                  VARCHAR(1024)   NOT NULL,
    target_table            VARCHAR(256)    NOT NULL,
    fingerprint             VARCHAR(64)     NOT NULL,
    objects                 INTEGER         NOT NULL,
    bytes                   BIGINT          NOT NULL,
    rows_staged             BIGINT          NOT NULL,
    staged_at               TIMESTAMP       NOT NULL,
    published_fingerprint   VARCHAR(64),
    PRIMARY KEY (source)
)
DISTSTYLE ALL;
