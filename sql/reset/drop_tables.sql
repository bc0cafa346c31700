-- Used only by the manually triggered sparkify_reset_tables DAG (after its confirmation check) and the demo
-- when it generates a new dataset. Dropping staging_state empties the staging cache: the per-day tables
-- staging_events_YYYYMMDD that are left behind are restaged (REPLACE) by the next run of their day.
DROP TABLE IF EXISTS staging_songs, staging_state, publish_log, audit_songplays, audit_users, audit_songs,
    audit_artists, audit_time, songplays, users, songs, artists, "time";
