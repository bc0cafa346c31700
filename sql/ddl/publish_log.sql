-- One row per publish transaction (plugins/sparkify/publish.py). The publish transaction begins with
-- LOCK publish_log: publishes of concurrent runs (a 10-wide backfill) queue here, one at a time, while
-- readers of the published tables are never blocked.
CREATE TABLE IF NOT EXISTS publish_log (
    interval_start      TIMESTAMP       NOT NULL,
    interval_end        TIMESTAMP       NOT NULL,
    run_id              VARCHAR(256)    NOT NULL,
    plays               BIGINT          NOT NULL,
    catalog_published   BOOLEAN         NOT NULL,
    published_at        TIMESTAMP       NOT NULL
)
DISTSTYLE ALL;
