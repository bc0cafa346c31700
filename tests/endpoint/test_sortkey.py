"""A SORTKEY becomes a plain B-tree index, built once the CREATE TABLE is committed."""

from __future__ import annotations

import time

import psycopg
import pytest
import redshift_connector

from tests.endpoint.endpoint_helpers import pg, unique

pytestmark = pytest.mark.integration


def _indexes(pg_server, table: str, schema: str = "public") -> dict[str, str]:
    with pg(pg_server) as c:
        rows = c.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                         (schema, table)).fetchall()
    return dict(rows)


def _wait_for_index(pg_server, table: str, name: str, schema: str = "public", timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        found = _indexes(pg_server, table, schema)
        if name in found:
            return found[name]
        if time.monotonic() > deadline:
            raise AssertionError(f"no index {name} on {schema}.{table} after {timeout}s: {found}")
        time.sleep(0.1)


def _no_index_after(pg_server, table: str, schema: str = "public", wait: float = 1.5) -> None:
    time.sleep(wait)  # the build is asynchronous: give a wrong one time to appear
    assert _indexes(pg_server, table, schema) == {}


def test_redshift_connector_transaction_builds_indexes_after_commit(endpoint, pg_server):
    fact, dim, plain = unique("sk_fact"), unique("sk_dim"), unique("sk_plain")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        assert not conn.autocommit
        cur = conn.cursor()
        cur.execute(f"""CREATE TABLE IF NOT EXISTS {fact} (
            songplay_id VARCHAR(32) NOT NULL, start_time TIMESTAMP NOT NULL, user_id INTEGER,
            PRIMARY KEY (songplay_id)) DISTSTYLE KEY DISTKEY (start_time) COMPOUND SORTKEY (start_time, user_id);""")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {dim} (user_id INTEGER NOT NULL SORTKEY, level VARCHAR(8))"
                    " DISTSTYLE ALL;")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {plain} (a INTEGER DISTKEY) DISTSTYLE KEY;")
        time.sleep(0.5)
        assert _indexes(pg_server, fact) == {}  # not committed yet: nothing built
        conn.commit()
    fact_def = _wait_for_index(pg_server, fact, f"{fact}_sortkey")
    assert fact_def.startswith("CREATE INDEX ") and "btree (start_time, user_id)" in fact_def
    assert "btree (user_id)" in _wait_for_index(pg_server, dim, f"{dim}_sortkey")
    _no_index_after(pg_server, plain, wait=0)  # no SORTKEY, and DISTKEY is not indexed
    with pg(pg_server) as c:  # not unique: duplicates load as on Redshift
        c.execute(f"INSERT INTO {fact} VALUES ('a', '2018-11-01 00:00', 1), ('a', '2018-11-01 00:00', 1)")
        assert c.execute(f"SELECT count(*) FROM {fact}").fetchone() == (2,)
        assert c.execute("SELECT bool_or(indisunique) FROM pg_index WHERE indrelid = %s::regclass",
                         (fact,)).fetchone() == (False,)


def test_rolled_back_create_builds_nothing(endpoint, pg_server):
    table, created = unique("sk_rollback"), unique("sk_rolledback")
    with pg(pg_server) as c:  # exists without index: a leaked pending key would index it
        c.execute(f"CREATE TABLE {table} (start_time TIMESTAMP)")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} (start_time TIMESTAMP) SORTKEY (start_time)")
        cur.execute(f"CREATE TABLE {created} (start_time TIMESTAMP) SORTKEY (start_time)")
        conn.rollback()
        cur.execute("SELECT 1")
        conn.commit()
    _no_index_after(pg_server, table)
    with pg(pg_server) as c:
        assert c.execute("SELECT to_regclass(%s)", (created,)).fetchone() == (None,)


def test_failed_implicit_transaction_builds_nothing(endpoint, pg_server):
    table = unique("sk_failed")
    with pg(pg_server) as c:
        c.execute(f"CREATE TABLE {table} (a INT)")
    with psycopg.connect(endpoint.dsn(), autocommit=True, connect_timeout=10) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (a INT SORTKEY); SELECT 1 / 0")
        conn.execute("SELECT 1")
    _no_index_after(pg_server, table)


def test_psycopg_simple_protocol_quoted_schema_and_interleaved(endpoint, pg_server):
    schema, t1, t2 = unique("sk_schema"), unique("Sk_Quoted"), unique("sk_inter")
    with psycopg.connect(endpoint.dsn(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE SCHEMA {schema}; '
                     f'CREATE TABLE {schema}."{t1}" ("Start Time" TIMESTAMP, b INT) SORTKEY ("Start Time", B); '
                     f'CREATE TABLE {schema}.{t2} (a INT, b INT) INTERLEAVED SORTKEY (a, b);')
    assert 'btree ("Start Time", b)' in _wait_for_index(pg_server, t1, f"{t1}_sortkey", schema)
    assert "btree (a)" in _wait_for_index(pg_server, t2, f"{t2}_sortkey_a", schema)
    assert "btree (b)" in _wait_for_index(pg_server, t2, f"{t2}_sortkey_b", schema)


def test_search_path_and_existing_table_without_index(endpoint, pg_server):
    schema, table = unique("sk_path"), unique("sk_old")
    with pg(pg_server) as c:  # as an older endpoint left it: no index
        c.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.{table} (start_time TIMESTAMP)")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f"SET search_path TO {schema}")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} (start_time TIMESTAMP) SORTKEY (start_time)")
    _wait_for_index(pg_server, table, f"{table}_sortkey", schema)


def test_range_delete_on_the_sort_key_uses_the_index(endpoint, pg_server):
    table = unique("sk_plays")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} (songplay_id VARCHAR(32) NOT NULL,"
                    " start_time TIMESTAMP NOT NULL, user_id INTEGER) DISTKEY (start_time) SORTKEY (start_time)")
        conn.commit()
    _wait_for_index(pg_server, table, f"{table}_sortkey")
    with pg(pg_server) as c:
        c.execute(f"INSERT INTO {table} SELECT md5(i::text), TIMESTAMP '2018-11-01' + i * INTERVAL '10 seconds',"
                  " i % 97 FROM generate_series(1, 200000) i")
        c.execute(f"ANALYZE {table}")
        assert c.execute("SHOW enable_seqscan").fetchone() == ("on",)
        plan = "\n".join(r[0] for r in c.execute(
            f"EXPLAIN DELETE FROM {table} WHERE start_time >= '2018-11-10 00:00' AND start_time < '2018-11-10 01:00'"))
    assert f"{table}_sortkey" in plan and "Seq Scan" not in plan, plan
