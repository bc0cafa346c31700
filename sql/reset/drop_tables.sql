-- Run by the manually triggered sparkify_reset_tables DAG (after its confirmation check) and by the demo
-- when it generates a new dataset. reset_tables: every table of the registry (plugins/sparkify/tables.py)
-- except the per-day ones; dropping staging_state empties the staging cache, so the per-day tables
-- staging_events_YYYYMMDD that are kept are restaged (REPLACE) by the next run of their day.
DROP TABLE IF EXISTS {{ reset_tables | join(', ') }};
