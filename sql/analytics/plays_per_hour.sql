-- Plays, listeners and the share of plays matched to the catalog, per hour.
SELECT DATE_TRUNC('hour', sp.start_time) AS hour,
       COUNT(*) AS plays,
       COUNT(DISTINCT sp.user_id) AS listeners,
       ROUND(100.0 * COUNT(sp.song_id) / COUNT(*), 1) AS pct_matched
FROM songplays sp
GROUP BY 1
ORDER BY 1;
