"""The registry of the warehouse's tables: one entry per table, in creation order.

It drives the ``create_tables`` tasks of both DAGs (one ``sql/ddl/<name>.sql`` each, in this order), the
reset (``sql/reset/drop_tables.sql`` drops :func:`reset_tables`), the demo's report and the tests'
table lists. Standard library only and no ``sparkify`` import: DAG files import it at parse time, and
``devstack`` loads this file on its own (:func:`drop_statement` gives it the reset statement).

Adding a table: its ``sql/ddl/<name>.sql`` (and, for a fact or dimension, its ``sql/load/<name>.sql``
and ``sql/ddl/audit_<name>.sql``), plus one entry below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

#: What a table is for, in the order the reset drops them (audit copies before the tables they copy).
KINDS = ("staging", "control", "audit", "fact", "dimension")


@dataclass(frozen=True)
class Table:
    """One table of the warehouse.

    :param name: the table's name, unquoted (``time``).
    :param kind: one of :data:`KINDS`: ``staging`` (copies of S3), ``control`` (bookkeeping of staging
        and publish), ``fact`` / ``dimension`` (the published star schema), ``audit`` (write-audit-publish
        copy of a fact or dimension, ``CREATE TABLE audit_x (LIKE x)``).
    :param key: the column that identifies a row, when there is one.
    :param quoted: the name is a reserved word and is double-quoted in SQL (``"time"``).
    :param per_day: one table per day (``staging_events_YYYYMMDD``, named by its templated DDL); created by
        the hourly runs for their own day, never by the reset.
    :param load: the SELECT building the rows of a fact or dimension (``sql/load/``), written into its
        audit copy by the DAG's load task.
    :param audit_of: for an audit table, the published table it is a copy of.
    """

    name: str
    kind: str
    key: str | None = None
    quoted: bool = False
    per_day: bool = False
    load: str | None = None
    audit_of: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")

    @property
    def sql_name(self) -> str:
        """The name as written in SQL: ``"time"`` for a quoted one."""
        return f'"{self.name}"' if self.quoted else self.name

    @property
    def ddl(self) -> str:
        """The ``CREATE TABLE IF NOT EXISTS`` file, relative to ``sql/``."""
        return f"ddl/{self.name}.sql"

    def audit_copy(self) -> Table:
        """The write-audit-publish copy of this fact or dimension: ``audit_<name>``, same key."""
        return replace(self, name=f"audit_{self.name}", kind="audit", quoted=False, load=None, audit_of=self.name)


#: The published star schema, fact first.
PUBLISHED = (
    Table("songplays", "fact", key="songplay_id", load="load/songplays.sql"),
    Table("users", "dimension", key="user_id", load="load/users.sql"),
    Table("songs", "dimension", key="song_id", load="load/songs.sql"),
    Table("artists", "dimension", key="artist_id", load="load/artists.sql"),
    Table("time", "dimension", key="start_time", quoted=True, load="load/time.sql"),
)

#: Every table, in creation order: published tables before their audit copies (``LIKE`` needs them).
TABLES = (
    Table("staging_events", "staging", per_day=True),
    Table("staging_events_next_day", "staging", per_day=True),  # the next day's file, for late plays
    Table("staging_songs", "staging"),
    Table("staging_state", "control", key="source"),
    Table("publish_log", "control"),
    *PUBLISHED,
    *(table.audit_copy() for table in PUBLISHED),
)

#: The entries by name.
BY_NAME = {table.name: table for table in TABLES}


def of_kind(*kinds: str) -> tuple[Table, ...]:
    """The tables of the given kinds, in creation order."""
    return tuple(table for table in TABLES if table.kind in kinds)


def ddl_files(*, per_day: bool = True) -> list[str]:
    """The DDL files in creation order; ``per_day=False`` leaves out the per-day tables (the reset)."""
    return [table.ddl for table in TABLES if per_day or not table.per_day]


def reset_tables() -> list[str]:
    """SQL names of the tables the reset drops, in :data:`KINDS` order; per-day tables are kept (their
    staging is restaged by the next run of their day once ``staging_state`` is dropped)."""
    kept = [table for table in TABLES if not table.per_day]
    return [table.sql_name for table in sorted(kept, key=lambda table: KINDS.index(table.kind))]


def drop_statement(sql_dir: str | os.PathLike[str] | None = None) -> str:
    """``sql/reset/drop_tables.sql`` rendered for :func:`reset_tables`, for callers outside Airflow.

    ``sql_dir`` defaults to ``$SPARKIFY_SQL_DIR`` or the ``sql/`` folder beside ``plugins/``.
    """
    import jinja2

    folder = Path(sql_dir or os.environ.get("SPARKIFY_SQL_DIR") or Path(__file__).resolve().parents[2] / "sql")
    template = jinja2.Template((folder / "reset" / "drop_tables.sql").read_text(), undefined=jinja2.StrictUndefined)
    return template.render(reset_tables=reset_tables())
