"""Airflow Assets produced by ``sparkify_etl``: schedule downstream DAGs on them.

Example::

    from sparkify.assets import SONGPLAYS

    with DAG("daily_top_songs", schedule=[SONGPLAYS], ...): ...

Assets are identified by name only (``sparkify.<schema>.<table>``; Airflow then uses the name as the
URI too): the identity names the logical warehouse rather than a cluster host, so it holds locally and
on AWS alike. A ``scheme://`` URI would also make every DAG parse load Airflow's URI normalisers
(about 50 ms), which the parse-time budget of the DAG (bench/dag_parse.py) cannot afford.
"""

from __future__ import annotations

from airflow.sdk import Asset


def warehouse_table(table: str, schema: str = "public") -> Asset:
    """The Asset of one warehouse table."""
    return Asset(name=f"sparkify.{schema}.{table}", group="sparkify")


SONGPLAYS = warehouse_table("songplays")
USERS = warehouse_table("users")
SONGS = warehouse_table("songs")
ARTISTS = warehouse_table("artists")
TIME = warehouse_table("time")
