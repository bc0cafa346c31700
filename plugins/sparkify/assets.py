"""Airflow Assets produced by ``sparkify_etl``: schedule downstream DAGs on them.

Example::

    from sparkify.assets import SONGPLAYS

    with DAG("daily_top_songs", schedule=[SONGPLAYS], ...): ...

The URIs name the logical warehouse (``sparkify://warehouse/<schema>/<table>``) rather than a cluster
host, so the same asset identity holds locally and on AWS.
"""

from __future__ import annotations

from airflow.sdk import Asset


def warehouse_table(table: str, schema: str = "public") -> Asset:
    """The Asset of one warehouse table."""
    return Asset(name=f"sparkify.{schema}.{table}", uri=f"sparkify://warehouse/{schema}/{table}")


SONGPLAYS = warehouse_table("songplays")
USERS = warehouse_table("users")
SONGS = warehouse_table("songs")
ARTISTS = warehouse_table("artists")
TIME = warehouse_table("time")
