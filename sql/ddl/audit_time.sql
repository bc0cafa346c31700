-- Write-audit-publish: the loads write here, the quality gate checks these rows, the publish task copies
-- them into "time" in one transaction. Same columns (and Redshift dist/sort keys) as "time", no key constraint:
-- the gate's unique checks are what refuses duplicates.
CREATE TABLE IF NOT EXISTS audit_time (LIKE "time");
