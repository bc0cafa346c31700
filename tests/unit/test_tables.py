"""The table registry (sparkify.tables) and the sql/ folder agree: one DDL file per table, one load file
per fact and dimension, and nothing in sql/ddl or sql/load that the registry does not know."""

from __future__ import annotations

from pathlib import Path

from sparkify.tables import BY_NAME, KINDS, PUBLISHED, TABLES, of_kind

SQL = Path(__file__).resolve().parents[2] / "sql"


def test_every_entry_has_its_ddl_file_and_every_ddl_file_an_entry():
    assert [t for t in TABLES if not (SQL / t.ddl).is_file()] == []
    assert {path.stem for path in (SQL / "ddl").glob("*.sql")} == set(BY_NAME)


def test_facts_and_dimensions_have_a_load_file_and_an_audit_copy():
    published = of_kind("fact", "dimension")
    assert published == PUBLISHED and [t.kind for t in published].count("fact") == 1
    assert [t.name for t in published if not t.load or not (SQL / t.load).is_file()] == []
    assert {path.relative_to(SQL).as_posix() for path in (SQL / "load").glob("*.sql")} == {t.load for t in published}
    for table in published:
        audit = BY_NAME[f"audit_{table.name}"]
        assert (audit.kind, audit.audit_of, audit.key) == ("audit", table.name, table.key)
        assert f"(LIKE {table.sql_name})" in (SQL / audit.ddl).read_text()
        assert TABLES.index(audit) > TABLES.index(table)  # LIKE needs the published table first
    assert [t.name for t in TABLES if t.load and t.kind not in ("fact", "dimension")] == []


def test_entries_are_well_formed():
    assert all(t.kind in KINDS for t in TABLES) and len(BY_NAME) == len(TABLES)
    assert all(t.key for t in PUBLISHED)
    for table in TABLES:
        ddl = (SQL / table.ddl).read_text()
        name = table.sql_name if not table.per_day else table.name + "_{{"
        assert f"CREATE TABLE IF NOT EXISTS {name}" in ddl, table.name
    assert [t.sql_name for t in TABLES if t.quoted] == ['"time"']
