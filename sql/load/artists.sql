-- One row per artist_id of the staged catalog; among duplicates the first by a stable ordering wins
-- (records with a location and coordinates are preferred). Empty locations become NULL.
-- Columns are in the order of sql/ddl/artists.sql.
SELECT artist_id, name, location, latitude, longitude
FROM (
    SELECT artist_id,
           artist_name                      AS name,
           NULLIF(artist_location, '')      AS location,
           artist_latitude                  AS latitude,
           artist_longitude                 AS longitude,
           ROW_NUMBER() OVER (
               PARTITION BY artist_id
               ORDER BY CASE WHEN artist_latitude IS NULL THEN 1 ELSE 0 END,
                        CASE WHEN NULLIF(artist_location, '') IS NULL THEN 1 ELSE 0 END,
                        artist_name, artist_location, artist_latitude, artist_longitude
           ) AS rn
    FROM staging_songs
    WHERE artist_id IS NOT NULL
) a
WHERE a.rn = 1
