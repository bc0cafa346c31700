"""LoadFactOperator / LoadDimensionOperator: generated statements, modes and validation (hook patched)."""

from __future__ import annotations

import pytest

from sparkify.load import LoadDimensionOperator, LoadFactOperator, to_utc_naive, validate_select

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


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval_end": "2018-11-15T13:00:00+00:00"}, "empty or reversed"),
        ({"interval_start": "yesterday"}, "ISO 8601"),
        ({"table": "songplays; DROP TABLE users"}, "invalid table"),
        ({"sql": "SELECT 1; DELETE FROM users"}, "exactly one SELECT"),
        ({"sql": "DELETE FROM users"}, "must be a SELECT"),
        ({"sql": "  "}, "empty"),
        ({"columns": "a, b"}, "list of names"),
        ({"time_column": "start_time desc"}, "invalid time column"),
    ],
)
def test_fact_validation_happens_before_any_sql(patch_hook, kwargs, message):
    operator = fact(**kwargs)
    hook = patch_hook(operator)
    with pytest.raises(ValueError, match=message):
        operator.execute({})
    assert hook.run_calls == []


# ------------------------------------------------------------------------------- dimensions
def test_truncate_insert_deletes_inside_the_transaction(patch_hook):
    operator = dim(mode="truncate-insert")
    hook = patch_hook(operator, run_result=[10, 12])
    assert operator.execute({}) == {"deleted": 10, "inserted": 12}
    call = hook.run_calls[0]
    assert call["autocommit"] is False
    assert call["sql"] == ["DELETE FROM users", f"INSERT INTO users\n{SELECT}"]
    assert not any("TRUNCATE" in statement.upper() for statement in call["sql"])


def test_upsert_merges_through_a_temp_table(patch_hook):
    operator = dim(mode="upsert", key_columns=["user_id"])
    hook = patch_hook(operator, run_result=[3, 2, 3, None])
    assert operator.execute({}) == {"staged": 3, "deleted": 2, "inserted": 3}
    call = hook.run_calls[0]
    assert call["autocommit"] is False
    assert call["sql"] == [
        f"CREATE TEMP TABLE users_stage AS\n{SELECT}",
        "DELETE FROM users\nUSING users_stage\nWHERE users.user_id = users_stage.user_id",
        "INSERT INTO users\nSELECT * FROM users_stage",
        "DROP TABLE users_stage",
    ]


def test_upsert_with_composite_key_quoted_table_and_columns(patch_hook):
    operator = dim(table='public."time"', mode="upsert", key_columns=["a", "b"], columns=["a", "b", "c"])
    hook = patch_hook(operator)
    operator.execute({})
    create, delete, insert, drop = hook.run_calls[0]["sql"]
    assert create.startswith("CREATE TEMP TABLE time_stage AS\n")
    assert delete.endswith('WHERE public."time".a = time_stage.a AND public."time".b = time_stage.b')
    assert insert == 'INSERT INTO public."time" (a, b, c)\nSELECT a, b, c FROM time_stage'
    assert drop == "DROP TABLE time_stage"


def test_append_only_inserts(patch_hook):
    operator = dim(mode="append")
    hook = patch_hook(operator, run_result=[5])
    assert operator.execute({}) == {"inserted": 5}
    assert hook.run_calls[0]["sql"] == [f"INSERT INTO users\n{SELECT}"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "merge"}, "unknown mode"),
        ({"mode": "upsert"}, "needs key_columns"),
        ({"mode": "upsert", "key_columns": ["user id"]}, "invalid key column"),
        ({"table": "users u"}, "invalid table"),
        ({"sql": "TRUNCATE users"}, "must be a SELECT"),
    ],
)
def test_dimension_validation(patch_hook, kwargs, message):
    operator = dim(**kwargs)
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
    assert {"interval_start", "interval_end"} <= set(LoadFactOperator.template_fields)


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
