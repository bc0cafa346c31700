-- One row per distinct play start_time of the run's data interval, read back from audit_songplays (which
-- the fact task has just written); written to audit_time. weekday: 0 = Sunday .. 6 = Saturday.
-- Columns are in the order of sql/ddl/time.sql.
SELECT start_time,
       CAST(EXTRACT(hour  FROM start_time) AS INTEGER) AS hour,
       CAST(EXTRACT(day   FROM start_time) AS INTEGER) AS day,
       CAST(EXTRACT(week  FROM start_time) AS INTEGER) AS week,
       CAST(EXTRACT(month FROM start_time) AS INTEGER) AS month,
       CAST(EXTRACT(year  FROM start_time) AS INTEGER) AS year,
       CAST(EXTRACT(dow   FROM start_time) AS INTEGER) AS weekday
FROM (
    SELECT DISTINCT start_time
    FROM audit_songplays
    WHERE start_time >= '{{ interval_start() }}'
      AND start_time <  '{{ interval_end() }}'
) p
