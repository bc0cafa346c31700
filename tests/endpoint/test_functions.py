"""Redshift function and catalog-name rewrites (sql/functions.py) and UNLOAD parsing/formatting (unload.py): pure logic.

The results through a real endpoint are checked against the documentation in
tests/endpoint/test_sql_compat.py and test_unload.py.
"""

from __future__ import annotations

import gzip

import pytest

from redshift_endpoint.sql.translate import rewrite
from redshift_endpoint.tokens import tokenize
from redshift_endpoint.unload import UnloadError, UnloadJob, format_row, parse_copy_line, parse_unload


def sql(text: str) -> str:
    return rewrite(text).sql


@pytest.mark.parametrize("text", [
    "select 'nvl(a, b)', \"len\" from t -- listagg(x)\n",
    "select $$ select top 10 * from t $$, /* median(x) */ 1",
    "select decode(data, 'base64') from t",          # PostgreSQL's two-argument decode
    "select t.len(x), s.nvl(a, b) from t",           # qualified: someone else's function
    "select top from t",                              # a column named top
    "select len from t",                              # a column named len
])
def test_literals_comments_and_other_functions_are_left_alone(text):
    assert sql(text) == text


def test_null_handling():
    assert sql("select nvl(a, b, c)") == "select COALESCE(a, b, c)"
    assert sql("select NVL2(x, 'y', 'n')") == "select (CASE WHEN (x) IS NOT NULL THEN 'y' ELSE 'n' END)"
    assert sql("select decode(c, 1, 'one', null, 'none', 'other')") == (
        "select (CASE WHEN (c) IS NOT DISTINCT FROM (1) THEN 'one' WHEN (c) IS NOT DISTINCT FROM (null) "
        "THEN 'none' ELSE 'other' END)")
    assert sql("select decode(c, 1, 'one')") == "select (CASE WHEN (c) IS NOT DISTINCT FROM (1) THEN 'one' END)"


def test_nested_calls_are_rewritten_inside_out():
    assert sql("select nvl(decode(a, 1, len(b)), charindex('x', nvl(c, '')))") == (
        "select COALESCE((CASE WHEN (a) IS NOT DISTINCT FROM (1) THEN length(b) END), "
        "strpos(COALESCE(c, ''), 'x'))")


def test_date_functions_name_the_part_and_use_the_compat_schema():
    rw = rewrite("select datediff(wk, a, b), dateadd(MINS, -5, getdate()), date_part(dw, ts), "
                 "datepart('yrs', ts), date_trunc(qtr, ts), extract(weekday from ts)")
    assert rw.compat
    assert rw.sql == (
        "select redshift_compat.datediff('wk', a, b), "
        "redshift_compat.dateadd('minute', -5, CAST(date_trunc('second', statement_timestamp()) AS timestamp)), "
        "date_part('dow', ts), date_part('year', ts), date_trunc('quarter', ts), EXTRACT(dow FROM ts)")


def test_string_and_conversion_functions():
    rw = rewrite("select len(s), textlen(s), charindex('fish', s), strtol(h, 16), trunc(ts), "
                 "convert_timezone('PST', ts)")
    assert rw.sql == ("select length(s), length(s), strpos(s, 'fish'), redshift_compat.strtol(h, 16), "
                      "redshift_compat.trunc(ts), redshift_compat.convert_timezone('PST', ts)")
    assert rw.compat
    assert not rewrite("select nvl(a, b), len(c)").compat   # plain rewrites need no schema


def test_listagg_forms():
    assert sql("select listagg(x, ',') within group (order by y desc) from t") == (
        "select array_to_string(array_agg(x order by y desc) FILTER (WHERE (x)::text <> ''), ',') from t")
    assert sql("select listagg(distinct x) from t") == (
        "select array_to_string(array_agg(DISTINCT redshift_compat.listagg_key(x)) FILTER (WHERE (x)::text <> ''), "
        "'') from t")  # DISTINCT ignores trailing blanks (r_LISTAGG)
    assert sql("select listagg(x, ',') within group (order by y) over (partition by z) from t") == (
        "select array_to_string(array_agg(x) FILTER (WHERE (x)::text <> '') OVER (partition by z order by y "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING), ',') from t")


def test_median_and_approximate():
    assert sql("select median(x), approximate count(distinct y) from t") == (
        "select percentile_cont(0.5) WITHIN GROUP (ORDER BY x), count(distinct y) from t")
    assert sql("select median(x) over (partition by y) from t") == "select median(x) over (partition by y) from t"
    assert sql("select approximate percentile_disc(0.5) within group (order by x) from t") == (
        "select percentile_disc(0.5) within group (order by x) from t")


def test_select_top():
    assert sql("select top 10 * from t order by a;") == "select   * from t order by a LIMIT 10;"
    assert sql("select top 5 distinct a from t") == "select   distinct a from t LIMIT 5"
    assert sql("select * from (select top 3 a from t) s where b in (select top 2 b from u)") == (
        "select * from (select   a from t LIMIT 3) s where b in (select   b from u LIMIT 2)")
    assert sql("select top 1 a from t union select b from u") == (
        "(select   a from t LIMIT 1) union select b from u")


def test_merge_remove_duplicates():
    assert sql("MERGE INTO target USING source s ON target.id = s.id REMOVE DUPLICATES;") == (
        "WITH redshift_merge_matched AS (DELETE FROM target USING source AS s WHERE target.id = s.id) "
        "INSERT INTO target SELECT * FROM source;")
    plain = "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE"
    assert sql(plain) == plain   # PostgreSQL 15 runs Redshift's MERGE form as it is


def test_catalog_views_are_qualified():
    rw = rewrite('select "column" from pg_table_def; select * from PG_CATALOG.svv_table_info')
    assert rw.sql == ('select "column" from redshift_compat.pg_table_def; '
                      'select * from redshift_compat.svv_table_info')
    assert rw.compat


# ---------------------------------------------------------------- dates and strings (tests/endpoint/test_dates.py,
# test_strings.py run them against the documented examples)
@pytest.mark.parametrize(("text", "expected"), [
    ("select * from sales where saletime like '2008-09%'",
     "select * from sales where redshift_compat.as_text(saletime) like '2008-09%'"),
    ("select 1 where s.t.c not ilike 'x' or date_trunc('day', ts) like 'y' or (a) similar to 'z'",
     "select 1 where redshift_compat.as_text(s.t.c) not ilike 'x' or redshift_compat.as_text(date_trunc('day', ts)) "
     "like 'y' or redshift_compat.as_text((a)) similar to 'z'"),
])
def test_like_reads_its_operand_as_text(text, expected):
    rw = rewrite(text)
    assert rw.sql == expected and rw.compat


@pytest.mark.parametrize("text", [
    "select 1 where a || b like 'x'",          # the operand is a larger expression: already text
    "select 1 where x::text like 'x'",
    "select 1 where x collate \"C\" like 'x'",
    "select 1 where 'abc' like 'a%'",
    "select 1 where case when a then b end like 'x'",
])
def test_like_operands_that_are_not_a_plain_value_are_left_alone(text):
    assert sql(text) == text


def test_create_table_like_is_not_a_like_operator():
    # CREATE TABLE ... (LIKE y) is copied with its byte checks (char_types.py), never read as text.
    assert "as_text" not in sql("create table x (like y)")


def test_string_functions_read_timestamps_as_text_and_concat_is_the_operator():
    assert sql("select split_part(ts, '-', 1), substring(ts, 6, 2), substring(ts from 6 for 2), concat(a, b)") == (
        "select redshift_compat.split_part(redshift_compat.as_text(ts), '-', 1), substring(redshift_compat.as_text(ts), 6, 2), "
        "substring(redshift_compat.as_text(ts) from 6 for 2), ((a) || (b))")


@pytest.mark.parametrize("text", ["select concat('a', 'b', 'c');", "select concat('a')", "select regexp_count('a')",
                                  "select collate(x, 'en_US')"])
def test_refused_calls_replace_the_whole_statement(text):
    rw = rewrite(text)
    assert rw.sql.startswith("DO $redshift_refused$ BEGIN RAISE EXCEPTION") and "select" not in rw.sql
    assert rw.sql.endswith(";") == text.endswith(";")
    assert rw.refusals and rw.refusals[0].code in ("42883", "0A000")


def test_a_refused_call_inside_unload_refuses_the_unload():
    rw = rewrite("unload ('select concat(a, b, c) from t') to 's3://b/p' iam_role 'arn:aws:iam::1:role/r'")
    assert "CONCAT takes exactly two" in rw.sql and "iam" not in rw.sql and not rw.unloads


def test_regexp_patterns_take_redshift_backslash_escapes():
    assert sql(r"select regexp_replace(e, '@.*\\.(org|edu)$', '\\1'), regexp_count(e, 'a', 1, 'i')") == (
        r"select redshift_compat.regexp_replace(redshift_compat.as_text(e), E'@.*\\.(org|edu)$', E'\\1'), "
        r"redshift_compat.regexp_count(redshift_compat.as_text(e), 'a', 1, 'i')")
    # an E'' literal or an expression is passed as written
    assert sql(r"select regexp_substr(e, E'\\w', 1, 1, p)") == (
        r"select redshift_compat.regexp_substr(redshift_compat.as_text(e), E'\\w', 1, 1, p)")


def test_collations_and_decades():
    # The byte-length checks of char_types.py are added beside the collations; only the collations are checked here.
    ddl = sql("create table t (c varchar(9) collate case_insensitive, d char(2) COLLATE Case_Sensitive)")
    assert ddl.startswith("create table t (c varchar(9) ")
    assert ddl.count("COLLATE redshift_compat.case_insensitive") == 1 and ddl.count('COLLATE pg_catalog."C"') == 1
    assert "case_sensitive" not in ddl.lower().replace("case_insensitive", "")
    assert sql("select collate(c, 'case_insensitive') = 'x'") == (
        "select ((c) COLLATE redshift_compat.case_insensitive) = 'x'")
    assert sql("select extract(decade from ts), date_part(dec, ts), add_months(ts, 2)") == (
        "select (EXTRACT(decade FROM ts) + 1), (date_part('decade', ts) + 1), redshift_compat.add_months(ts, 2)")


# ---------------------------------------------------------------- UNLOAD
def parse(text: str):
    return parse_unload([t for t in tokenize(text) if t.significant])


def test_unload_is_sent_as_copy_to_stdout_without_its_credentials():
    rw = rewrite("unload ('select * from venue where venuestate=''NV''') to 's3://b/p_' "
                 "credentials 'aws_access_key_id=AK;aws_secret_access_key=SECRET' csv header parallel off;")
    assert rw.sql == ("COPY (select * from venue where venuestate='NV') TO STDOUT WITH (FORMAT text, HEADER true);")
    [(ordinal, spec)] = rw.unloads
    assert ordinal == 0 and spec.fmt == "csv" and spec.header and not spec.parallel
    assert spec.credentials["aws_secret_access_key"] == "SECRET" and "SECRET" not in repr(spec)


def test_unload_inner_query_is_rewritten_too():
    rw = rewrite("select 1; unload ('select nvl(a, 0) from t') to 's3://b/x' iam_role default json")
    assert rw.sql == ("select 1; COPY (SELECT row_to_json(redshift_unload) FROM (select COALESCE(a, 0) from t) "
                      "redshift_unload) TO STDOUT")
    assert rw.unloads[0][0] == 1


@pytest.mark.parametrize("options, fragment", [
    ("format parquet", "PARQUET"), ("fixedwidth '0:3'", "FIXEDWIDTH"), ("kms_key_id 'k' encrypted", "KMS_KEY_ID"),
    ("partition by (a)", "PARTITION BY"), ("zstd", "ZSTD"), ("rowgroupsize 32 mb", "ROWGROUPSIZE"),
    ("json null as 'x'", "NULL AS"), ("json delimiter ','", "DELIMITER"), ("csv addquotes", "ADDQUOTES"),
    ("cleanpath allowoverwrite", "CLEANPATH"), ("gzip bzip2", "compression"), ("maxfilesize 7 gb", "MAXFILESIZE"),
    ("delimiter '||'", "DELIMITER"), ("header header", "HEADER"), ("frobnicate", "FROBNICATE"),
])
def test_unload_refusals_name_the_option(options, fragment):
    with pytest.raises(UnloadError, match=fragment):
        parse(f"unload ('select 1') to 's3://b/p' iam_role 'arn:aws:iam::1:role/r' {options}")


def test_a_refused_unload_becomes_a_statement_raising_the_error():
    text = rewrite("unload ('select 1') to 's3://b/p' credentials 'aws_secret_access_key=SECRET' parquet").sql
    assert text.startswith("DO $redshift_unload$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000'")
    assert "SECRET" not in text


def test_copy_text_lines_are_parsed_and_formatted_per_format():
    values = parse_copy_line(b"1\t\\N\ta\\\\b\\tc\\nd\n")
    assert values == ["1", None, "a\\b\tc\nd"]
    csv = parse("unload ('select 1') to 's3://b/p' iam_role 'r' csv null as 'N'")
    assert format_row(csv, ["1", None, 'say "hi", ok']) == '1,N,"say ""hi"", ok"\n'
    text = parse("unload ('select 1') to 's3://b/p' iam_role 'r' escape delimiter ','")
    assert format_row(text, ["a,b", "c\\d", None]) == "a\\,b,c\\\\d,\n"


def test_files_are_named_and_split_like_redshift():
    spec = parse("unload ('select 1') to 's3://b/p_' iam_role 'r' header maxfilesize 5 mb extension 'txt'")
    job = UnloadJob(spec)
    job.add(b"a\tb\n")
    row = b"x" * 1000 + b"\t1\n"
    for _ in range(12000):   # ~12 MB: three files of at most 5 MB, each with the header
        job.add(row)
    files = job.files()
    assert [f.suffix for f in files] == ["0000_part_00.txt", "0000_part_01.txt", "0000_part_02.txt"]
    bodies = [f.body.read() for f in files]
    assert all(b.startswith(b"a|b\n") and len(b) <= 5 * 1024 * 1024 for b in bodies)
    assert sum(f.rows for f in files) == 12000 and all(f.header for f in files)
    assert b"".join(b.replace(b"a|b\n", b"") for b in bodies) == (b"x" * 1000 + b"|1\n") * 12000
    serial = UnloadJob(parse("unload ('select 1') to 's3://b/p_' iam_role 'r' parallel off gzip"))
    serial.add(b"a\n")
    serial.add(b"1\n")
    [gz] = serial.files()
    assert gz.suffix == "000.gz" and gzip.decompress(gz.body.read()) == b"1\n" and gz.stored == len(
        gzip.compress(b"1\n", mtime=0))
