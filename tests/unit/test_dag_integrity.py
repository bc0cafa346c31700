"""DAG files import cleanly; sparkify_etl has its schedule, defaults, graph and docs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
import pytest

from sparkify import assets
from sparkify.config import sql_dir

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))

EXPECTED_EDGES = {
    "begin": {"create_tables"},
    "create_tables": {"stage_events", "stage_events_next_day", "stage_songs"},
    "stage_events": {"load_songplays_fact"},
    "stage_events_next_day": {"load_songplays_fact"},
    "stage_songs": {"load_songplays_fact", "load_songs_dim", "load_artists_dim"},
    "load_songplays_fact": {"load_users_dim", "load_time_dim"},
    "load_users_dim": {"run_quality_checks"},
    "load_songs_dim": {"run_quality_checks"},
    "load_artists_dim": {"run_quality_checks"},
    "load_time_dim": {"run_quality_checks"},
    "run_quality_checks": {"publish"},
    "publish": {"check_published"},
    "check_published": {"announce_catalog"},
    "announce_catalog": {"end"},
    "end": set(),
}


def test_there_are_dag_files():
    names = {path.name for path in DAG_FILES}
    assert {"sparkify_etl.py", "sparkify_reset_tables.py"} <= names


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_errors(dag_file):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_file), safe_mode=False)
    assert bag.import_errors == {}
    assert bag.dags, f"{dag_file.name} defines no DAG"
    for dag in bag.dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md, f"{dag.dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.doc_md, f"{dag.dag_id}.{task.task_id} has no doc_md"


def test_schedule_is_hourly_with_real_data_intervals(etl_dag):
    """Plain "@hourly" would be a CronTriggerTimetable in Airflow 3, whose data interval is empty."""
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable as CoreTimetable

    timetable = etl_dag.timetable
    assert isinstance(timetable, CronDataIntervalTimetable)
    assert timetable.expression in {"@hourly", "0 * * * *"}  # the preset is stored expanded
    core = CoreTimetable(timetable.expression, timetable.timezone)
    first = core.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=etl_dag.start_date, latest=None, catchup=True),
    )
    assert first.data_interval.start == pendulum.datetime(2018, 11, 1, 0, tz="UTC")
    assert first.data_interval.end == pendulum.datetime(2018, 11, 1, 1, tz="UTC")
    manual = core.infer_manual_data_interval(run_after=pendulum.datetime(2018, 11, 15, 14, 10, tz="UTC"))
    assert (manual.start, manual.end) == (
        pendulum.datetime(2018, 11, 15, 13, tz="UTC"),
        pendulum.datetime(2018, 11, 15, 14, tz="UTC"),
    )


def test_schedule_and_run_settings(etl_dag):
    assert etl_dag.start_date == pendulum.datetime(2018, 11, 1, tz="UTC")
    assert etl_dag.catchup is False
    assert etl_dag.max_active_runs == 1
    assert "sparkify" in etl_dag.tags


def test_default_args(etl_dag):
    args = etl_dag.default_args
    assert args["owner"]
    assert args["depends_on_past"] is False
    assert args["retries"] == 3
    assert args["retry_delay"] == timedelta(minutes=5)
    assert args["email_on_retry"] is False
    task = etl_dag.get_task("load_songplays_fact")
    assert task.retries == 3 and task.retry_delay == timedelta(minutes=5) and task.depends_on_past is False


def test_graph(etl_dag):
    assert set(etl_dag.task_ids) == set(EXPECTED_EDGES)
    for task_id, downstream in EXPECTED_EDGES.items():
        assert etl_dag.get_task(task_id).downstream_task_ids == downstream, task_id


def test_staging_uses_the_provider_operator_with_replace(etl_dag):
    from airflow.providers.amazon.aws.transfers.s3_to_redshift import S3ToRedshiftOperator

    tables = (("stage_events", "staging_events_{{ interval_start('%Y%m%d') }}"),
              ("stage_events_next_day", "staging_events_next_day_{{ interval_start('%Y%m%d') }}"),
              ("stage_songs", "staging_songs"))
    for task_id, table in tables:
        task = etl_dag.get_task(task_id)
        assert type(task) is S3ToRedshiftOperator
        assert task.method == "REPLACE"
        assert task.table == table
        # one writer of a staging table at a time, across all runs (a backfill runs 10 at once)
        assert task.max_active_tis_per_dag == 1
        assert task._pre_execute_hook is not None and task._post_execute_hook is not None
        assert task.redshift_conn_id == "redshift_default"
        # explicit, otherwise the provider ignores region/role_arn of the connection extra
        assert task.aws_conn_id == "aws_default"


def test_publish_declares_the_hour_assets_and_announce_catalog_the_catalog_ones(etl_dag):
    """songs/artists change only in runs that publish a catalog: their outlets are on announce_catalog,
    which skips (no asset event) in the other runs, and which must not block the run's end."""
    from sparkify.announce import AnnounceCatalogOperator

    assert set(etl_dag.get_task("publish").outlets) == {assets.SONGPLAYS, assets.USERS, assets.TIME}
    announce = etl_dag.get_task("announce_catalog")
    assert type(announce) is AnnounceCatalogOperator and announce.publish_task_id == "publish"
    assert set(announce.outlets) == {assets.SONGS, assets.ARTISTS}
    assert etl_dag.get_task("end").trigger_rule == "none_failed"
    published = {assets.SONGPLAYS, assets.USERS, assets.SONGS, assets.ARTISTS, assets.TIME}
    assert len({asset.uri for asset in published}) == len(published)
    for task_id in ("load_songplays_fact", "load_users_dim", "load_time_dim", "load_songs_dim"):
        assert etl_dag.get_task(task_id).outlets == [], f"{task_id} writes audit tables, publishes nothing"


def test_loads_write_audit_tables(etl_dag):
    from sparkify.load import LoadDimensionOperator, LoadFactOperator

    fact = etl_dag.get_task("load_songplays_fact")
    assert type(fact) is LoadFactOperator and (fact.table, fact.time_column) == ("audit_songplays", "start_time")
    hourly = {"load_users_dim": ("audit_users", "last_event_ts"), "load_time_dim": ("audit_time", "start_time")}
    for task_id, (table, column) in hourly.items():
        task = etl_dag.get_task(task_id)
        assert type(task) is LoadDimensionOperator
        assert (task.table, task.mode, task.time_column) == (table, "interval", column)
    for task_id, table in (("load_songs_dim", "audit_songs"), ("load_artists_dim", "audit_artists")):
        task = etl_dag.get_task(task_id)
        assert type(task) is LoadDimensionOperator and (task.table, task.mode) == (table, "truncate-insert")
        assert task.max_active_tis_per_dag == 1


def test_one_fact_load_and_four_dimension_loads(dagbag):
    """Every dimension is loaded by LoadDimensionOperator, the one fact by LoadFactOperator."""
    from collections import Counter

    from sparkify.load import LoadDimensionOperator, LoadFactOperator

    kinds = Counter(type(task) for dag in dagbag.dags.values() for task in dag.tasks)
    assert (kinds[LoadFactOperator], kinds[LoadDimensionOperator]) == (1, 4)


def test_every_fact_and_dimension_of_the_registry_is_loaded_into_its_audit_copy(raw_dags):
    from sparkify.load import LoadDimensionOperator, LoadFactOperator
    from sparkify.tables import BY_NAME, PUBLISHED

    loads = {(task.table, task.sql) for task in raw_dags["sparkify_etl"].tasks
             if isinstance(task, LoadFactOperator | LoadDimensionOperator)}
    assert loads == {(table.audit_copy().name, table.load) for table in PUBLISHED}
    assert all(BY_NAME[name].kind == "audit" for name, _ in loads)


def test_trigger_rules_let_cached_staging_skip(etl_dag):
    """A skipped (cached) staging task must not skip the hour; a failed one must stop it."""
    assert etl_dag.get_task("load_songplays_fact").trigger_rule == "none_failed"
    assert etl_dag.get_task("run_quality_checks").trigger_rule == "none_failed"
    # skipped with stage_songs: an unchanged catalog is not rebuilt
    assert etl_dag.get_task("load_songs_dim").trigger_rule == "all_success"
    assert etl_dag.get_task("publish").trigger_rule == "all_success"


def test_run_params_default_to_off(etl_dag):
    assert etl_dag.params["force_restage"] is False
    assert etl_dag.params["accept_smaller_hour"] is False


def test_template_searchpath_is_the_repo_sql_folder(etl_dag):
    assert [Path(p).resolve() for p in etl_dag.template_searchpath] == [(ROOT / "sql").resolve()]


def test_every_referenced_sql_file_exists(raw_dags):
    referenced = []
    for dag in raw_dags.values():
        for task in dag.tasks:
            for field in ("sql", "checks", "hour_sql", "catalog_sql"):
                value = getattr(task, field, None)
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and item.endswith((".sql", ".yaml")):
                        referenced.append(item)
    assert "load/songplays.sql" in referenced and "quality/checks.yaml" in referenced
    missing = [item for item in referenced if not (ROOT / "sql" / item).is_file()]
    assert missing == []


def test_create_tables_covers_every_ddl_file(raw_dags):
    from sparkify.tables import ddl_files

    ddl = {f"ddl/{path.name}" for path in (ROOT / "sql" / "ddl").glob("*.sql")}
    assert raw_dags["sparkify_etl"].get_task("create_tables").sql == ddl_files()  # registry order
    assert set(ddl_files()) == ddl
    # the per-day staging tables are created by the hourly runs, for their own day
    reset = raw_dags["sparkify_reset_tables"].get_task("create_tables").sql
    assert reset == ddl_files(per_day=False)
    assert set(reset) == ddl - {"ddl/staging_events.sql", "ddl/staging_events_next_day.sql"}


def test_reset_drops_what_the_registry_says(dagbag):
    from sparkify.tables import drop_statement, reset_tables

    dag = dagbag.dags["sparkify_reset_tables"]
    task = dag.get_task("drop_tables")
    rendered = task.render_template(task.sql, {"dag": dag, "task": task}, dag.get_template_env())
    assert rendered == drop_statement()
    statement = rendered.split("DROP TABLE IF EXISTS ", 1)[1]
    assert statement.rstrip() == ", ".join(reset_tables()) + ";"
    assert '"time"' in reset_tables() and "staging_events" not in statement


def test_dagbag_resolves_the_sql_files_into_their_content(etl_dag):
    statements = etl_dag.get_task("create_tables").sql
    assert len(statements) == len(list((ROOT / "sql" / "ddl").glob("*.sql")))
    assert all("CREATE TABLE IF NOT EXISTS" in statement for statement in statements)
    assert "INSERT" not in etl_dag.get_task("load_songplays_fact").sql.upper()
    assert "NextSong" in etl_dag.get_task("load_songplays_fact").sql


def test_sql_dir_side_by_side_container_layout(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARKIFY_SQL_DIR", raising=False)
    for name in ("dags", "plugins", "sql"):
        (tmp_path / "opt" / "airflow" / name).mkdir(parents=True)
    dag_file = tmp_path / "opt" / "airflow" / "dags" / "sparkify_etl.py"
    assert sql_dir(dag_file) == str(tmp_path / "opt" / "airflow" / "sql")


def test_sql_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKIFY_SQL_DIR", str(tmp_path))
    assert sql_dir(ROOT / "dags" / "sparkify_etl.py") == str(tmp_path)


def test_reset_dag_is_manual_and_guarded(dagbag):
    dag = dagbag.dags["sparkify_reset_tables"]
    assert dag.schedule is None
    assert "confirm" in dag.params
    first = dag.get_task("check_confirmation")
    assert first.downstream_task_ids == {"drop_tables"}
    assert dag.get_task("drop_tables").downstream_task_ids == {"create_tables"}


def test_reset_confirmation():
    from airflow.sdk.exceptions import AirflowFailException

    from sparkify.reset import CONFIRMATION, require_confirmation

    assert require_confirmation({"confirm": CONFIRMATION}) == "confirmed"
    for wrong in ({}, {"confirm": ""}, {"confirm": CONFIRMATION.lower()}, {"confirm": "yes"}):
        with pytest.raises(AirflowFailException, match="refusing"):
            require_confirmation(wrong)


def test_dag_file_does_no_variable_or_connection_access_at_import(monkeypatch):
    """Importing the DAG must not touch Variables or connections (they are rendered per task)."""
    import importlib.util

    from airflow.sdk import BaseHook, Variable

    def boom(*args, **kwargs):
        raise AssertionError("accessed at import time")

    monkeypatch.setattr(Variable, "get", boom)
    monkeypatch.setattr(BaseHook, "get_connection", boom)
    spec = importlib.util.spec_from_file_location("sparkify_etl_probe", ROOT / "dags" / "sparkify_etl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.dag.dag_id == "sparkify_etl"
