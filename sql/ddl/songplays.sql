-- Fact: one row per NextSong event. A play is identified by (session_id, item_in_session);
-- songplay_id = MD5('<session_id>:<item_in_session>') so a rerun produces identical rows.
-- song_id / artist_id stay NULL when the catalog has no (title, artist_name, duration) match.
-- Distributed on start_time: near-unique (even spread) and co-located with "time" for the join;
-- sorted on start_time so the per-interval DELETE and time-range queries prune blocks.
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id         VARCHAR(32)     NOT NULL,
    start_time          TIMESTAMP       NOT NULL,
    user_id             INTEGER,
    level               VARCHAR(16),
    song_id             VARCHAR(32),
    artist_id           VARCHAR(32),
    session_id          INTEGER         NOT NULL,
    item_in_session     INTEGER         NOT NULL,
    location            VARCHAR(512),
    user_agent          VARCHAR(512),
    PRIMARY KEY (songplay_id)
)
DISTSTYLE KEY
DISTKEY (start_time)
SORTKEY (start_time);
