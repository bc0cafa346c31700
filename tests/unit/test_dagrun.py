"""devstack.dagrun's run convention: the run for hour H is the scheduler's run for H."""

from __future__ import annotations

import pendulum
import pytest


@pytest.fixture(scope="module")
def scheduler_dag(etl_dag):
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.deserialize_dag(DagSerialization.serialize_dag(etl_dag))


def test_the_run_for_an_hour_is_the_schedulers(scheduler_dag):
    from airflow.timetables.base import DataInterval, TimeRestriction

    from devstack.dagrun import scheduled_run_info

    hour = pendulum.datetime(2018, 11, 2, 0, tz="UTC")
    info = scheduled_run_info(scheduler_dag, hour)
    assert info.logical_date == hour
    assert info.data_interval == DataInterval(hour, hour.add(hours=1))
    # What the scheduler creates after the run of the hour before.
    scheduled = scheduler_dag.timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(hour.subtract(hours=1), hour),
        restriction=TimeRestriction(earliest=scheduler_dag.start_date, latest=None, catchup=True),
    )
    assert (scheduled.logical_date, scheduled.data_interval) == (info.logical_date, info.data_interval)
    # Not what dag.test(logical_date=H) would make: its manual interval is the hour before H.
    assert scheduler_dag.timetable.infer_manual_data_interval(run_after=hour) != info.data_interval


def test_an_hour_off_the_schedule_is_refused(scheduler_dag):
    from devstack.dagrun import scheduled_run_info

    with pytest.raises(ValueError, match="not a scheduled logical date"):
        scheduled_run_info(scheduler_dag, pendulum.datetime(2018, 11, 2, 0, 30, tz="UTC"))
