"""LoadFactOperator / LoadDimensionOperator: generated statements, modes and validation (hook patched);
the SQL text helpers of sparkify.sqltext."""

from __future__ import annotations

import pytest

from sparkify.load import LoadDimensionOperator, LoadFactOperator
from sparkify.sqltext import quote_literal, sql_timestamp, timestamp_literal, to_utc_naive, validate_select

SELECT = "SELECT a, b FROM staging"


@pytest.fixture
def patch_hook(monkeypatch, fake_hook_factory):
    def _patch(operator, run_result=None):
        hook = fake_hook_factory(run_result=run_result)
        monkeypatch.setattr(operator, "get_db_hook", lambda: hook)
        return hook

    return _patch


def fact(**kwargs):
    args = {
        "task_id": "fact",
        "table": "songplays",
        "sql": SELECT,
        "interval_start": "2018-11-15T13:00:00+00:00",
        "interval_end": "2018-11-15T14:00:00+00:00",
    }
    args.update(kwargs)
    return LoadFactOperator(**args)


def dim(**kwargs):
    args = {"task_id": "dim", "table": "users", "sql": SELECT}
    args.update(kwargs)
    return LoadDimensionOperator(**args)


# ------------------------------------------------------------------------------- fact
def test_fact_replaces_exactly_the_interval_in_one_transaction(patch_hook):
    operator = fact()
    hook = patch_hook(operator, run_result=[4, 7])
    assert operator.execute({}) == {"deleted": 4, "inserted": 7}
    (call,) = hook.run_calls
    assert call["autocommit"] is False
    delete, insert = call["sql"]
    assert delete == (
        "DELETE FROM songplays\n"
        "WHERE start_time >= '2018-11-15 13:00:00'\n"
        "  AND start_time < '2018-11-15 14:00:00'"
    )
    assert insert == f"INSERT INTO songplays\n{SELECT}"


def test_fact_converts_offsets_to_utc_and_keeps_the_time_column(patch_hook):
    operator = fact(
        interval_start="2018-11-15T14:00:00+01:00", interval_end="2018-11-15 10:00:00-05:00", time_column="ts"
    )
    hook = patch_hook(operator)
    operator.execute({})
    delete = hook.run_calls[0]["sql"][0]
    assert "ts >= '2018-11-15 13:00:00'" in delete and "ts < '2018-11-15 15:00:00'" in delete


def test_fact_column_list_and_trailing_semicolon(patch_hook):
    operator = fact(sql=SELECT + " ;\n", columns=["a", "b"])
    hook = patch_hook(operator)
    operator.execute({})
    assert hook.run_calls[0]["sql"][1] == f"INSERT INTO songplays (a, b)\n{SELECT}"


# ------------------------------------------------------------------------------- dimensions
def test_truncate_insert_deletes_inside_the_transaction(patch_hook):
    operator = dim(mode="truncate-insert")
    hook = patch_hook(operator, run_result=[10, 12])
    assert operator.execute({}) == {"deleted": 10, "inserted": 12}
    call = hook.run_calls[0]
    assert call["autocommit"] is False
    assert call["sql"] == ["DELETE FROM users", f"INSERT INTO users\n{SELECT}"]
    assert not any("TRUNCATE" in statement.upper() for statement in call["sql"])


def test_interval_mode_replaces_exactly_the_interval_like_the_fact(patch_hook):
    interval = {"interval_start": "2018-11-15T13:00:00+00:00", "interval_end": "2018-11-15T14:00:00+00:00"}
    operator = dim(mode="interval", time_column="last_event_ts", **interval)
    hook = patch_hook(operator, run_result=[2, 3])
    assert operator.execute({}) == {"deleted": 2, "inserted": 3}
    call = hook.run_calls[0]
    assert call["autocommit"] is False
    assert call["sql"] == [
        "DELETE FROM users\n"
        "WHERE last_event_ts >= '2018-11-15 13:00:00'\n"
        "  AND last_event_ts < '2018-11-15 14:00:00'",
        f"INSERT INTO users\n{SELECT}",
    ]
    fact_operator = fact(table="users", time_column="last_event_ts")
    fact_hook = patch_hook(fact_operator)
    fact_operator.execute({})
    assert fact_hook.run_calls[0]["sql"] == call["sql"]  # one builder for both operators


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (fact, {"interval_end": "2018-11-15T13:00:00+00:00"}, "empty or reversed"),
        (fact, {"interval_start": "yesterday"}, "ISO 8601"),
        (fact, {"table": "songplays; DROP TABLE users"}, "invalid table"),
        (fact, {"sql": "SELECT 1; DELETE FROM users"}, "exactly one SELECT"),
        (fact, {"sql": "DELETE FROM users"}, "must be a SELECT"),
        (fact, {"sql": "  "}, "empty"),
        (fact, {"columns": "a, b"}, "list of names"),
        (fact, {"time_column": "start_time desc"}, "invalid time column"),
        (dim, {"mode": "merge"}, "unknown mode"),
        (dim, {"mode": "upsert"}, "unknown mode"),
        (dim, {"mode": "interval"}, "needs time_column"),
        (dim, {"mode": "interval", "time_column": "ts desc"}, "invalid time column"),
        (dim, {"mode": "interval", "time_column": "ts", "interval_start": "yesterday"}, "ISO 8601"),
        (dim, {"table": "users u"}, "invalid table"),
        (dim, {"sql": "TRUNCATE users"}, "must be a SELECT"),
    ],
)
def test_validation_happens_before_any_sql(patch_hook, make, kwargs, message):
    operator = make(**kwargs)
    hook = patch_hook(operator)
    with pytest.raises(ValueError, match=message):
        operator.execute({})
    assert hook.run_calls == []


def test_rows_affected_and_sql_are_logged(patch_hook, capsys, caplog):
    operator = dim(mode="truncate-insert")
    patch_hook(operator, run_result=[1, 2])
    with caplog.at_level("INFO"):
        operator.execute({})
    captured = capsys.readouterr()
    text = caplog.text + captured.out + captured.err  # Airflow 3 logs through structlog (stdout)
    assert "INSERT INTO users" in text and SELECT in text
    assert "(DELETE): rows affected: 1" in text and "(INSERT): rows affected: 2" in text


# ------------------------------------------------------------------------------- plumbing
def test_templating_contract():
    for cls in (LoadFactOperator, LoadDimensionOperator):
        assert cls.template_ext == (".sql",)
        assert {"sql", "table", "conn_id"} <= set(cls.template_fields)
        assert {"interval_start", "interval_end"} <= set(cls.template_fields)
    assert "mode" in LoadDimensionOperator.template_fields


def test_keyword_only_init():
    with pytest.raises(TypeError):
        LoadFactOperator("fact", "songplays", SELECT)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("conn", "hook_class"),
    [
        (
            '{"conn_type": "postgres", "host": "db", "login": "u", "password": "pw", "schema": "dev"}',
            "PostgresHook",
        ),
        (
            '{"conn_type": "redshift", "host": "db", "login": "u", "password": "pw", "schema": "dev",'
            ' "port": 5439, "extra": {"ssl": false}}',
            "RedshiftSQLHook",
        ),
    ],
)
def test_hook_comes_from_the_connection_type(monkeypatch, conn, hook_class):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_UNDER_TEST", conn)
    operator = dim(conn_id="warehouse_under_test")
    assert type(operator.get_db_hook()).__name__ == hook_class


def test_default_connection_is_redshift_default():
    assert fact().conn_id == "redshift_default" and dim().conn_id == "redshift_default"


def test_helpers():
    from datetime import datetime

    assert to_utc_naive("2018-11-15T13:30:00Z", "x") == datetime(2018, 11, 15, 13, 30)
    assert (
        validate_select("-- a comment; with a semicolon\nSELECT 1;")
        == "-- a comment; with a semicolon\nSELECT 1"
    )
    assert validate_select("WITH x AS (SELECT 1) SELECT * FROM x").startswith("WITH")
    assert sql_timestamp(datetime(2018, 11, 15, 13)) == "2018-11-15 13:00:00"
    assert sql_timestamp(datetime(2018, 11, 15, 13, 0, 0, 5)) == "2018-11-15 13:00:00.000005"
    assert timestamp_literal(datetime(2018, 11, 15, 13)) == "'2018-11-15 13:00:00'"
    assert quote_literal("it's") == "'it''s'" and quote_literal(3) == "3" and quote_literal(0.5) == "0.5"
    for bad in (None, True):
        with pytest.raises(ValueError, match="string or a number"):
            quote_literal(bad)
