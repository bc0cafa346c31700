-- Publish the audited catalog into songs and artists. Appended to the publish transaction only in runs
-- that restaged the catalog (load_songs_dim and load_artists_dim ran); DELETE, not TRUNCATE (which
-- commits on Redshift): readers keep the old catalog until the COMMIT.
DELETE FROM songs;

INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, year, duration FROM audit_songs;

DELETE FROM artists;

INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT artist_id, name, location, latitude, longitude FROM audit_artists
