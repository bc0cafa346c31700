-- Publish the audited hour [interval_start(), interval_end()) into the published tables. Run by the publish
-- task as ONE transaction, after LOCK publish_log (plugins/sparkify/publish.py): readers see all of the
-- hour or none of it, and concurrent runs publish one at a time.
-- songplays and "time": the interval is replaced by the audited rows.
DELETE FROM songplays
WHERE start_time >= '{{ interval_start() }}' AND start_time < '{{ interval_end() }}';

INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id,
                       item_in_session, location, user_agent)
SELECT songplay_id, start_time, user_id, level, song_id, artist_id, session_id,
       item_in_session, location, user_agent
FROM audit_songplays
WHERE start_time >= '{{ interval_start() }}' AND start_time < '{{ interval_end() }}';

DELETE FROM "time"
WHERE start_time >= '{{ interval_start() }}' AND start_time < '{{ interval_end() }}';

INSERT INTO "time" (start_time, hour, day, week, month, year, weekday)
SELECT start_time, hour, day, week, month, year, weekday
FROM audit_time
WHERE start_time >= '{{ interval_start() }}' AND start_time < '{{ interval_end() }}';

-- users, newer wins: a published row is replaced only by a strictly newer event (ts, session, item), so
-- backfilling an older hour never overwrites a newer level; then users not (or no longer) present are added.
DELETE FROM users
USING audit_users a
WHERE users.user_id = a.user_id
  AND a.last_event_ts >= '{{ interval_start() }}' AND a.last_event_ts < '{{ interval_end() }}'
  AND (   a.last_event_ts > users.last_event_ts
       OR (a.last_event_ts = users.last_event_ts AND a.last_session_id > users.last_session_id)
       OR (a.last_event_ts = users.last_event_ts AND a.last_session_id = users.last_session_id
           AND a.last_item_in_session > users.last_item_in_session));

INSERT INTO users (user_id, first_name, last_name, gender, level, last_event_ts, last_session_id,
                   last_item_in_session)
SELECT a.user_id, a.first_name, a.last_name, a.gender, a.level, a.last_event_ts, a.last_session_id,
       a.last_item_in_session
FROM audit_users a
WHERE a.last_event_ts >= '{{ interval_start() }}' AND a.last_event_ts < '{{ interval_end() }}'
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = a.user_id)
