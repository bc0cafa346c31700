-- Candidate user rows of the run's data interval (interval_events(): the day's file and, for late events,
-- the next day's), written to audit_users: one row per user with a
-- non-empty userid (any page), taken from the user's latest event in the interval, latest = max by
-- (ts, sessionid, iteminsession). last_event_ts therefore lies in the interval, and the audit rows of an
-- hour are exactly those with last_event_ts in it. "Newer wins" against the published users is applied
-- by the publish task (sql/publish/hour.sql), under its lock.
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
    FROM {{ interval_events() }} e
    WHERE userid IS NOT NULL
      AND userid <> ''
) c
WHERE c.rn = 1
