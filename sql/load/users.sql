-- Users seen in the run's data interval: every event with a non-empty userid (any page).
-- One row per user from the user's latest event in the interval, latest = max by
-- (ts, sessionid, iteminsession). Rows whose stored event is newer than (or the same as) the
-- candidate are filtered out here, so the upsert (delete matching user_id + insert) is "newer wins".
-- Columns are in the order of sql/ddl/users.sql.
SELECT c.user_id, c.first_name, c.last_name, c.gender, c.level,
       c.last_event_ts, c.last_session_id, c.last_item_in_session
FROM (
    SELECT CAST(userid AS INTEGER) AS user_id,
           firstname               AS first_name,
           lastname                AS last_name,
           gender                  AS gender,
           level                   AS level,
           ts                      AS last_event_ts,
           sessionid               AS last_session_id,
           iteminsession           AS last_item_in_session,
           ROW_NUMBER() OVER (
               PARTITION BY userid
               ORDER BY ts DESC, sessionid DESC, iteminsession DESC
           ) AS rn
    FROM staging_events
    WHERE userid IS NOT NULL
      AND userid <> ''
      AND ts >= '{{ data_interval_start.strftime("%Y-%m-%d %H:%M:%S") }}'
      AND ts <  '{{ data_interval_end.strftime("%Y-%m-%d %H:%M:%S") }}'
) c
WHERE c.rn = 1
  AND NOT EXISTS (
      SELECT 1
      FROM users u
      WHERE u.user_id = c.user_id
        AND (   u.last_event_ts > c.last_event_ts
             OR (u.last_event_ts = c.last_event_ts AND u.last_session_id > c.last_session_id)
             OR (u.last_event_ts = c.last_event_ts AND u.last_session_id = c.last_session_id
                 AND u.last_item_in_session >= c.last_item_in_session))
  )
