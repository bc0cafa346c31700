-- Plays of the run's data interval [data_interval_start, data_interval_end): every NextSong event.
-- Read from interval_events(): the interval's rows of the day's staging table and of the next day's file
-- (where late plays of the day arrive; plugins/sparkify/intervals.py); written to audit_songplays by LoadFactOperator, which first deletes
-- the same interval there (same transaction). The publish task copies the audited hour into songplays.
-- The catalog match is a LEFT JOIN on (title, artist_name, duration); should the catalog hold several
-- songs with the same triple, the smallest song_id wins, so a play is never duplicated.
-- Columns are in the order of sql/ddl/songplays.sql.
SELECT
    MD5(CAST(e.sessionid AS VARCHAR) || ':' || CAST(e.iteminsession AS VARCHAR)) AS songplay_id,
    e.ts                                        AS start_time,
    CAST(NULLIF(e.userid, '') AS INTEGER)       AS user_id,
    e.level                                     AS level,
    s.song_id                                   AS song_id,
    s.artist_id                                 AS artist_id,
    e.sessionid                                 AS session_id,
    e.iteminsession                             AS item_in_session,
    e.location                                  AS location,
    e.useragent                                 AS user_agent
FROM {{ interval_events() }} e
LEFT JOIN (
    SELECT song_id, artist_id, title, artist_name, duration,
           ROW_NUMBER() OVER (PARTITION BY title, artist_name, duration ORDER BY song_id) AS rn
    FROM staging_songs
) s
    ON  s.title = e.song
    AND s.artist_name = e.artist
    AND s.duration = e.length
    AND s.rn = 1
WHERE e.page = 'NextSong'
