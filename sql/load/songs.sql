-- One row per song_id of the staged catalog; among duplicates the first by a stable ordering wins.
-- Columns are in the order of sql/ddl/songs.sql.
SELECT song_id, title, artist_id, year, duration
FROM (
    SELECT song_id, title, artist_id, year, duration,
           ROW_NUMBER() OVER (
               PARTITION BY song_id
               ORDER BY title, artist_id, duration, year
           ) AS rn
    FROM staging_songs
    WHERE song_id IS NOT NULL
) s
WHERE s.rn = 1
