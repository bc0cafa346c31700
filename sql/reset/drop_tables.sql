-- Used only by the manually triggered sparkify_reset_tables DAG (after its confirmation check).
DROP TABLE IF EXISTS staging_events, staging_songs, songplays, users, songs, artists, "time";
