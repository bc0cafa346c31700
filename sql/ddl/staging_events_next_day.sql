-- The NEXT day's event file, staged for the late plays of the run's day: the log shipper names a file by
-- the UTC day an event arrived, so a play of 23:55 may sit in the next day's file. Every run of day D
-- copies log_data/.../(D+1)-events.json, when it exists, into staging_events_next_day_D (emptied while it
-- does not); interval_events() reads the interval's rows of both tables (plugins/sparkify/intervals.py).
-- Its own table (not staging_events_(D+1)): the next day's runs copy that one, and two writers of one
-- staging table at once would duplicate rows. Same columns, in the same order, as staging_events.
CREATE TABLE IF NOT EXISTS staging_events_next_day_{{ interval_start('%Y%m%d') }} (LIKE staging_events_{{ interval_start('%Y%m%d') }})
