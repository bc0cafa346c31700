"""Character types in the DDL rewrite and in COPY's row conversion, and TRUNCATE's COMMIT (pure logic).

The behaviour itself is proved through the endpoint in test_character_types.py and
test_transactions.py; these pin the rewriting rules (r_Character_types, r_TRUNCATE,
copy-parameters-data-conversion, multi-byte-character-load-errors).
"""

from __future__ import annotations

import pytest

from redshift_endpoint.convert import convert_unit
from redshift_endpoint.load_spec import Column, LoadSpec
from redshift_endpoint.sql import char_types
from redshift_endpoint.sql.translate import rewrite


@pytest.mark.parametrize(("declared", "pg_type"), [
    ("varchar", "varchar(256)"), ("VARCHAR(MAX)", "varchar(65535)"), ("character varying (12)", "varchar(12)"),
    ("nvarchar(3)", "varchar(3)"), ("text", "varchar(256)"), ("char", "char(1)"), ("CHARACTER(4)", "char(4)"),
    ("nchar(max)", "char(4096)"), ("bpchar", "char(256)"),
])
def test_declared_types_become_their_redshift_sizes(declared, pg_type):
    """r_Character_types: defaults (VARCHAR 256, CHAR 1, BPCHAR 256, TEXT VARCHAR(256)) and MAX."""
    assert char_types.parse(declared).pg_type == pg_type


@pytest.mark.parametrize("declared", ["integer", "varchar(10)[]", "timestamp", "character varying(3) array"])
def test_other_types_are_not_character_types(declared):
    assert char_types.parse(declared) is None


@pytest.mark.parametrize(("declared", "message"), [
    ("varchar(65536)", "cannot exceed 65535"), ("char(4097)", "cannot exceed 4096"), ("char(0)", "at least 1"),
])
def test_out_of_range_lengths_are_refused(declared, message):
    with pytest.raises(char_types.CharTypeError, match=message):
        char_types.parse(declared)


def test_create_table_keeps_the_type_and_adds_a_bytes_check():
    rw = rewrite("create table t (a varchar(10) not null encode zstd, b char(2), n int)")
    assert 'a varchar(10) CONSTRAINT "a_bytes" CHECK (octet_length("a") <= 10 OR ' \
           'redshift_compat.varchar_too_long("a", 10)) not null' in rw.sql
    assert 'redshift_compat.char_not_single_byte("b", 2)' in rw.sql and "n int" in rw.sql
    assert rw.compat  # the CHECKs call the redshift_compat schema: it is created first
    assert [(c.name, c.type) for c in rw.tables[0].columns] == [("a", "varchar(10)"), ("b", "char(2)"), ("n", "int")]


def test_refused_length_fails_the_statement_and_registers_no_table():
    rw = rewrite("create table t (a varchar(70000)) sortkey (a)")
    assert rw.sql.startswith("DO ") and "cannot exceed 65535" in rw.sql and "22023" in rw.sql
    assert rw.tables == [] and rw.sortkeys == []


def test_alter_table_and_like():
    add = rewrite("alter table s.t add column z varchar(3) default 'a'").sql
    assert 'z varchar(3) CONSTRAINT "z_bytes" CHECK' in add and add.endswith("default 'a'")
    alter = rewrite("ALTER TABLE t ALTER COLUMN a TYPE varchar(20)").sql
    assert alter.startswith('ALTER TABLE t ALTER COLUMN a TYPE varchar(20), DROP CONSTRAINT IF EXISTS "a_bytes", '
                            'ADD CONSTRAINT "a_bytes" CHECK (octet_length("a") <= 20')
    assert rewrite("create table x (like t)").sql == "create table x (like t INCLUDING CONSTRAINTS)"
    assert rewrite("alter table t add constraint pk primary key (a)").sql == \
        "alter table t add constraint pk primary key (a)"


def test_truncate_gets_a_commit_only_in_a_simple_query():
    """r_TRUNCATE: it commits its transaction; a Parse cannot hold two statements (the relay sends it)."""
    simple = rewrite("begin; truncate t; rollback", commit_truncates=True)
    assert simple.sql == "begin; truncate t; COMMIT; rollback" and simple.truncates == [1]
    assert rewrite("truncate table t", commit_truncates=True).sql == "truncate table t; COMMIT"
    parse = rewrite("truncate t")
    assert parse.sql == "truncate t" and parse.truncates == [0]


def _convert(col_type: str, values: list[str], truncate: bool = False, binary: bool = False):
    col = Column.of("v", col_type)
    spec = LoadSpec((col,), "json", "auto", truncate_columns=truncate, binary=binary)
    data = "\n".join(f'{{"v": "{v}"}}' for v in values).encode()
    return convert_unit(spec, "f", data)


@pytest.mark.parametrize("binary", [False, True])
def test_copy_lengths_are_bytes(binary):
    """r_Character_types: 12 bytes fit VARCHAR(12) whatever the characters; 13 bytes are error 1204."""
    ok = _convert("character varying(12)", ["a" * 12, "é" * 6, "€" * 4, "😀" * 3], binary=binary)
    assert ok.rows == 4 and not ok.errors
    bad = _convert("character varying(12)", ["é" * 6 + "a", "😀" * 3 + "a"], binary=binary)
    assert [(e.line_number, e.err_code, e.err_reason) for e in bad.errors] == [
        (1, 1204, "String length exceeds DDL length"), (2, 1204, "String length exceeds DDL length")]


def test_truncatecolumns_never_splits_a_character():
    out = _convert("character varying(5)", ["ééé", "a€€", "😀😀"], truncate=True)
    assert out.data.decode().splitlines() == ['"éé"', '"a€"', '"😀"']


def test_multibyte_into_char_is_1220_even_with_truncatecolumns():
    out = _convert("character(8)", ["ok", "naïve"], truncate=True)
    assert out.rows == 1
    ((err,),) = [out.errors]
    assert (err.line_number, err.err_code) == (2, 1220)
    assert err.err_reason == "Multibyte character not supported for CHAR (Hint: Try using VARCHAR). Invalid char: c3af"
